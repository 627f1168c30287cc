import type { FileHashes } from './packages';

/**
 * Release files (DebianRepository/Format "Release files"), written the way apt-ftparchive does:
 * fields, then MD5Sum/SHA1/SHA256/SHA512 sections with " <hash> <size, 16 wide> <path>" lines.
 */
export interface ReleaseInfo {
  origin: string;
  label: string;
  suite: string;
  codename: string;
  date: Date;
  validUntil?: Date | undefined;
  architectures: string[];
  components: string[];
  description: string;
  /** Fingerprints of the keys that sign this suite (Signed-By:). */
  signedBy?: string[] | undefined;
  acquireByHash: boolean;
  /** Index files relative to dists/<suite>/, with size and hashes. */
  files: ReadonlyArray<{ path: string } & FileHashes>;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** RFC 1123 date in UTC as apt writes it: "Sat, 01 Jan 2000 00:00:00 UTC". */
export function releaseDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

export function releaseFile(r: ReleaseInfo): string {
  const lines = [
    `Origin: ${r.origin}`,
    `Label: ${r.label}`,
    `Suite: ${r.suite}`,
    `Codename: ${r.codename}`,
    `Date: ${releaseDate(r.date)}`,
  ];
  if (r.validUntil) lines.push(`Valid-Until: ${releaseDate(r.validUntil)}`);
  if (r.acquireByHash) lines.push('Acquire-By-Hash: yes');
  // every binary-<arch> index also lists the Architecture: all packages
  lines.push('No-Support-for-Architecture-all: Packages');
  lines.push(`Architectures: ${r.architectures.join(' ')}`, `Components: ${r.components.join(' ')}`, `Description: ${r.description}`);
  if (r.signedBy?.length) lines.push(`Signed-By: ${r.signedBy.join(' ')}`);
  const files = [...r.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const [section, key] of [['MD5Sum', 'md5'], ['SHA1', 'sha1'], ['SHA256', 'sha256'], ['SHA512', 'sha512']] as const) {
    lines.push(`${section}:`);
    for (const f of files) lines.push(` ${f[key]} ${String(f.size).padStart(16)} ${f.path}`);
  }
  return lines.join('\n') + '\n';
}

/** dists/<suite>/<component>/binary-<arch>/Release, as reprepro and apt-ftparchive write it. */
export function componentReleaseFile(r: { suite: string; origin: string; label: string; component: string; architecture: string }): string {
  return `Archive: ${r.suite}\nOrigin: ${r.origin}\nLabel: ${r.label}\nComponent: ${r.component}\nArchitecture: ${r.architecture}\n`;
}
