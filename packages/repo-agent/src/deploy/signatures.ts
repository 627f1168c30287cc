import {
  checkReleaseHashes,
  checkRepomdHashes,
  FormatError,
  readPublicKey,
  sameSignedText,
  signatureChecks,
  verifyClearSigned,
  verifyDetached,
  type ManifestEntry,
} from '@pkgfleet/shared';

export type TrustedKey = Awaited<ReturnType<typeof readPublicKey>>;

export interface SignatureReport {
  /** Signatures checked (InRelease, Release.gpg, repomd.xml.asc). */
  signatures: number;
  /** Index files whose hash was checked against signed metadata. */
  indexes: number;
}

/**
 * Signatures already verified, by key fingerprint and the SHA-256 of the signed file and of the
 * signature: the same bytes against the same key verify the same way, so a deploy whose
 * InRelease or repomd.xml.asc did not change (most of them, for most suites) skips the public-key
 * operation. The value is the clear-signed text (or '' for a detached signature).
 */
export class VerifiedSignatures {
  private readonly map = new Map<string, string>();
  constructor(private readonly max = 256) {}
  get(k: string): string | undefined {
    return this.map.get(k);
  }
  set(k: string, v: string): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(k, v);
  }
}

/**
 * Check every signed piece of repository metadata in a snapshot against the trusted key (never a
 * key found in the snapshot): InRelease, Release.gpg, repomd.xml.asc; that InRelease says what
 * Release says; and that each index a signed file lists and the snapshot holds has the listed
 * hash. `entries` must describe the bytes `read` returns (checked by hash beforehand): with
 * `verified`, a signature over bytes with those hashes verified before is not verified again.
 */
export async function verifySnapshotSignatures(
  entries: readonly ManifestEntry[],
  read: (path: string) => Promise<Buffer>,
  key: TrustedKey,
  what: string,
  verified?: VerifiedSignatures,
): Promise<SignatureReport> {
  const checks = signatureChecks(entries, what);
  if (checks.length === 0) {
    throw new FormatError('E_SNAPSHOT_UNSIGNED', `${what}: holds no apt (dists/<suite>/InRelease) or yum (repodata/repomd.xml) metadata`, 'deploy the root of a published repository tree');
  }
  const files = new Map(entries.map((e) => [e.path, e]));
  const fingerprint = verified ? key.getFingerprint() : '';
  const cacheKey = (...paths: string[]) => [fingerprint, ...paths.map((p) => files.get(p)!.sha256)].join(':');
  let indexes = 0;
  for (const c of checks) {
    if (c.kind === 'clearsigned') {
      const k = cacheKey(c.path);
      let text = verified?.get(k);
      if (text === undefined) {
        text = await verifyClearSigned((await read(c.path)).toString('utf8'), key, `${what}: ${c.path}`);
        verified?.set(k, text);
      }
      if (c.release !== undefined && !sameSignedText(text, (await read(c.release)).toString('utf8'))) {
        throw new FormatError('E_SNAPSHOT_INDEX', `${what}: ${c.path} and ${c.release} say different things`, 'republish: both must be made from the same Release');
      }
      indexes += checkReleaseHashes(text, c.path.slice(0, -'/InRelease'.length), files, what);
    } else {
      const data = await read(c.data);
      const k = cacheKey(c.data, c.signature);
      if (verified?.get(k) === undefined) {
        const sig = await read(c.signature);
        const armored = sig.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
        await verifyDetached(data, armored ? sig.toString('utf8') : new Uint8Array(sig), key, `${what}: ${c.signature}`);
        verified?.set(k, '');
      }
      if (c.data.endsWith('/repomd.xml') || c.data === 'repodata/repomd.xml') {
        const base = c.data.slice(0, -'repodata/repomd.xml'.length).replace(/\/$/, '');
        indexes += checkRepomdHashes(data.toString('utf8'), base, files, what);
      } else {
        indexes += checkReleaseHashes(data.toString('utf8'), c.data.slice(0, -'/Release'.length), files, what);
      }
    }
  }
  return { signatures: checks.length, indexes };
}
