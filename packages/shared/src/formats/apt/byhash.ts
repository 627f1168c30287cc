import type { FileHashes } from './packages';

/**
 * Acquire-By-Hash (DebianRepository/Format "indices acquisition via hashsums"): every index
 * listed in Release is also served as <dir>/by-hash/<MD5Sum|SHA1|SHA256|SHA512>/<hex digest>, so a
 * client that fetched an older InRelease still finds the files it names while a publish happens.
 */
export const BY_HASH_ALGOS = [['MD5Sum', 'md5'], ['SHA1', 'sha1'], ['SHA256', 'sha256'], ['SHA512', 'sha512']] as const;

/** The by-hash names of one index file (relative to the same base as `path`). */
export function byHashPaths(path: string, h: FileHashes): string[] {
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash + 1) : '';
  return BY_HASH_ALGOS.map(([section, key]) => `${dir}by-hash/${section}/${h[key]}`);
}
