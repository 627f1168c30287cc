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
 * Check every signed piece of repository metadata in a snapshot against the trusted key (never a
 * key found in the snapshot): InRelease, Release.gpg, repomd.xml.asc; that InRelease says what
 * Release says; and that each index a signed file lists and the snapshot holds has the listed
 * hash. `entries` must describe the bytes `read` returns (checked by hash beforehand).
 */
export async function verifySnapshotSignatures(
  entries: readonly ManifestEntry[],
  read: (path: string) => Promise<Buffer>,
  key: TrustedKey,
  what: string,
): Promise<SignatureReport> {
  const checks = signatureChecks(entries, what);
  if (checks.length === 0) {
    throw new FormatError('E_SNAPSHOT_UNSIGNED', `${what}: holds no apt (dists/<suite>/InRelease) or yum (repodata/repomd.xml) metadata`, 'deploy the root of a published repository tree');
  }
  const files = new Map(entries.map((e) => [e.path, e]));
  let indexes = 0;
  for (const c of checks) {
    if (c.kind === 'clearsigned') {
      const text = await verifyClearSigned((await read(c.path)).toString('utf8'), key, `${what}: ${c.path}`);
      if (c.release !== undefined && !sameSignedText(text, (await read(c.release)).toString('utf8'))) {
        throw new FormatError('E_SNAPSHOT_INDEX', `${what}: ${c.path} and ${c.release} say different things`, 'republish: both must be made from the same Release');
      }
      indexes += checkReleaseHashes(text, c.path.slice(0, -'/InRelease'.length), files, what);
    } else {
      const data = await read(c.data);
      const sig = await read(c.signature);
      const armored = sig.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
      await verifyDetached(data, armored ? sig.toString('utf8') : new Uint8Array(sig), key, `${what}: ${c.signature}`);
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
