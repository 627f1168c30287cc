import { FormatError } from '../errors';
import type { ManifestEntry } from './manifest';

/**
 * Which files of a snapshot carry the repository's signatures, and what each must be checked
 * against. Pure: the caller reads the bytes and verifies with the trusted key.
 */
export type SignatureCheck =
  | { kind: 'clearsigned'; path: string; /** the Release it must agree with, if present */ release: string | undefined }
  | { kind: 'detached'; data: string; signature: string };

const APT_TOP = /^((?:.*\/)?dists\/[^/]+)\/(InRelease|Release|Release\.gpg)$/;
const YUM_MD = /^((?:.*\/)?repodata)\/(repomd\.xml|repomd\.xml\.asc)$/;

/**
 * The signature checks a snapshot needs: for every dists/<suite>/, InRelease (clear-signed) and
 * Release.gpg over Release; for every repodata/, repomd.xml.asc over repomd.xml. Unsigned
 * metadata (a Release without Release.gpg, a repomd.xml without .asc, a suite without InRelease)
 * is refused: a client would be offered something nobody vouched for.
 */
export function signatureChecks(entries: readonly { path: string }[], what = 'snapshot'): SignatureCheck[] {
  const apt = new Map<string, Set<string>>();
  const yum = new Map<string, Set<string>>();
  for (const { path } of entries) {
    let m = APT_TOP.exec(path);
    if (m) {
      const set = apt.get(m[1]!) ?? new Set<string>();
      set.add(m[2]!);
      apt.set(m[1]!, set);
      continue;
    }
    m = YUM_MD.exec(path);
    if (m) {
      const set = yum.get(m[1]!) ?? new Set<string>();
      set.add(m[2]!);
      yum.set(m[1]!, set);
    }
  }
  const refuse = (msg: string) => new FormatError('E_SNAPSHOT_UNSIGNED', `${what}: ${msg}`, 'publish the repository with its signatures (orchestrator-agent repo publish signs them)');
  const checks: SignatureCheck[] = [];
  for (const [dir, files] of [...apt].sort()) {
    if (!files.has('InRelease')) throw refuse(`${dir}/InRelease is missing`);
    if (files.has('Release') !== files.has('Release.gpg')) {
      throw refuse(files.has('Release') ? `${dir}/Release has no Release.gpg` : `${dir}/Release.gpg has no Release`);
    }
    checks.push({ kind: 'clearsigned', path: `${dir}/InRelease`, release: files.has('Release') ? `${dir}/Release` : undefined });
    if (files.has('Release')) checks.push({ kind: 'detached', data: `${dir}/Release`, signature: `${dir}/Release.gpg` });
  }
  for (const [dir, files] of [...yum].sort()) {
    if (!files.has('repomd.xml')) throw refuse(`${dir}/repomd.xml.asc has no repomd.xml`);
    if (!files.has('repomd.xml.asc')) throw refuse(`${dir}/repomd.xml has no repomd.xml.asc`);
    checks.push({ kind: 'detached', data: `${dir}/repomd.xml`, signature: `${dir}/repomd.xml.asc` });
  }
  return checks;
}

/** Same text for clear-signing purposes: RFC 4880 §7.1 ignores trailing whitespace on each line. */
export function sameSignedText(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\r\n/g, '\n').split('\n').map((l) => l.replace(/[ \t]+$/, '')).join('\n').replace(/\n+$/, '');
  return norm(a) === norm(b);
}

/**
 * Check the SHA256 section of a (verified) Release text against the snapshot's own files under
 * `suiteDir`: an index listed there that is present must have that size and hash, so a client
 * that trusts the signature never fetches a file that does not match it. Returns the count checked.
 */
export function checkReleaseHashes(releaseText: string, suiteDir: string, files: ReadonlyMap<string, ManifestEntry>, what: string): number {
  let inSha256 = false;
  let checked = 0;
  for (const line of releaseText.split('\n')) {
    if (/^\S/.test(line)) {
      inSha256 = /^SHA256:\s*$/.test(line);
      continue;
    }
    if (!inSha256) continue;
    const m = /^\s+([0-9a-fA-F]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    const entry = files.get(`${suiteDir}/${m[3]}`);
    if (!entry) continue;
    if (entry.sha256 !== m[1]!.toLowerCase() || entry.size !== Number(m[2])) {
      throw new FormatError('E_SNAPSHOT_INDEX', `${what}: ${suiteDir}/${m[3]} does not match its SHA256 line in the signed Release (size ${entry.size}, expected ${m[2]})`, 'republish: the index changed after Release was signed');
    }
    checked++;
  }
  return checked;
}

/**
 * Check the <data> entries of a (verified) repomd.xml against the snapshot's files: each listed
 * location present must have the sha256 and size repomd.xml gives. Returns the count checked.
 */
export function checkRepomdHashes(repomdXml: string, repoBase: string, files: ReadonlyMap<string, ManifestEntry>, what: string): number {
  let checked = 0;
  for (const block of repomdXml.match(/<data\b[\s\S]*?<\/data>/g) ?? []) {
    const href = /<location\b[^>]*\bhref="([^"]+)"/.exec(block)?.[1];
    const sum = /<checksum\b[^>]*\btype="sha256"[^>]*>\s*([0-9a-fA-F]{64})\s*<\/checksum>/.exec(block)?.[1];
    const size = /<size>\s*(\d+)\s*<\/size>/.exec(block)?.[1];
    if (!href || !sum) continue;
    const path = repoBase ? `${repoBase}/${href}` : href;
    const entry = files.get(path);
    if (!entry) continue;
    if (entry.sha256 !== sum.toLowerCase() || (size !== undefined && entry.size !== Number(size))) {
      throw new FormatError('E_SNAPSHOT_INDEX', `${what}: ${path} does not match its checksum in the signed repomd.xml`, 'republish: the metadata changed after repomd.xml was signed');
    }
    checked++;
  }
  return checked;
}
