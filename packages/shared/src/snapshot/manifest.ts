import { FormatError } from '../errors';

/**
 * A snapshot manifest: every file of a repository tree with its size, SHA-256 and mode. The
 * orchestrator sends it first; the repo-agent answers with the content it lacks (lackingContent),
 * receives only that and checks every byte against it. Pure: no fs, no clock.
 */
export interface ManifestEntry {
  /** Relative path, '/'-separated, validated by validateSnapshotPath. */
  path: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
  /** Permission bits only (0o644 …): no set-id, no sticky bit, no file type. */
  mode: number;
}

export interface Manifest {
  entries: ManifestEntry[];
}

export const MANIFEST_FORMAT = 'pkgfleet-snapshot-manifest';
export const MANIFEST_VERSION = 1;

export interface ManifestLimits {
  /** Most entries a manifest may list. */
  maxEntries: number;
  /** Largest file a manifest may list, in bytes. */
  maxFileSize: number;
  /** Longest path, in bytes (PATH_MAX-ish). */
  maxPathLength: number;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  maxEntries: 1_000_000,
  maxFileSize: 16 * 1024 ** 3,
  maxPathLength: 1024,
};

const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * Why `path` cannot name a file inside a snapshot, or undefined if it can: relative,
 * '/'-separated, no empty, '.' or '..' segment, no NUL/control characters or backslash.
 */
export function snapshotPathProblem(path: string, maxLength = DEFAULT_MANIFEST_LIMITS.maxPathLength): string | undefined {
  if (typeof path !== 'string' || path === '') return 'empty path';
  if (Buffer.byteLength(path) > maxLength) return `path longer than ${maxLength} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'control character in path';
  if (path.includes('\\')) return 'backslash in path';
  if (path.startsWith('/')) return 'absolute path';
  for (const seg of path.split('/')) {
    if (seg === '') return 'empty path segment (// or trailing /)';
    if (seg === '..') return "'..' in path";
    if (seg === '.') return "'.' in path";
  }
  return undefined;
}

/** Throw a FormatError naming `what` when `path` is not a valid snapshot path. */
export function validateSnapshotPath(path: string, what = 'snapshot'): string {
  const problem = snapshotPathProblem(path);
  if (problem) {
    throw new FormatError('E_SNAPSHOT_PATH', `${what}: refused path ${JSON.stringify(path)}: ${problem}`, 'a snapshot holds regular files under relative paths only');
  }
  return path;
}

/** Validate one entry of untrusted input (a manifest from the network or from disk). */
export function validateManifestEntry(raw: unknown, what: string, limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS): ManifestEntry {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FormatError('E_MANIFEST', `${what}: manifest entry must be an object`);
  }
  const e = raw as Record<string, unknown>;
  const path = e.path;
  if (typeof path !== 'string') throw new FormatError('E_MANIFEST', `${what}: manifest entry without a path`);
  validateSnapshotPath(path, what);
  const bad = (field: string, expected: string) =>
    new FormatError('E_MANIFEST', `${what}: ${path}: "${field}" must be ${expected}, got ${JSON.stringify(e[field])}`);
  if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) throw bad('size', 'a non-negative integer');
  if (e.size > limits.maxFileSize) {
    throw new FormatError('E_MANIFEST_LIMIT', `${what}: ${path} is ${e.size} bytes, over the limit maxFileSize=${limits.maxFileSize}`, 'raise maxFileSize in the repo-agent config if this file is expected');
  }
  if (typeof e.sha256 !== 'string' || !SHA256_RE.test(e.sha256)) throw bad('sha256', '64 lower-case hex digits');
  if (typeof e.mode !== 'number' || !Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o777) throw bad('mode', 'permission bits between 0 and 0o777');
  if ((e.mode & 0o400) === 0) throw bad('mode', 'readable by its owner');
  return { path, size: e.size, sha256: e.sha256, mode: e.mode };
}

/**
 * Validate a whole manifest: every entry, no duplicate path, no path that is both a file and a
 * directory (a/b and a/b/c), within the limits.
 */
export function validateManifest(raw: unknown, what = 'manifest', limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS): Manifest {
  const obj = raw as Record<string, unknown> | null;
  if (!obj || typeof obj !== 'object' || !Array.isArray(obj.entries)) {
    throw new FormatError('E_MANIFEST', `${what}: must be an object with an "entries" array`);
  }
  if (obj.entries.length > limits.maxEntries) {
    throw new FormatError('E_MANIFEST_LIMIT', `${what}: ${obj.entries.length} entries, over the limit maxEntries=${limits.maxEntries}`);
  }
  const entries = obj.entries.map((e, i) => validateManifestEntry(e, `${what} entry ${i}`, limits));
  const files = new Set<string>();
  for (const e of entries) {
    if (files.has(e.path)) throw new FormatError('E_MANIFEST', `${what}: ${e.path} is listed twice`);
    files.add(e.path);
  }
  for (const e of entries) {
    const segs = e.path.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      if (files.has(dir)) throw new FormatError('E_MANIFEST', `${what}: ${dir} is listed as a file but ${e.path} is inside it`);
    }
  }
  return { entries };
}

/** Canonical JSON text of a manifest (sorted by path), as sent and stored. */
export function serializeManifest(m: Manifest): string {
  const entries = [...m.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return JSON.stringify({ format: MANIFEST_FORMAT, version: MANIFEST_VERSION, entries: entries.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode })) });
}

/** Parse and validate the JSON text of a manifest. */
export function parseManifest(text: string, what = 'manifest', limits: ManifestLimits = DEFAULT_MANIFEST_LIMITS): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FormatError('E_MANIFEST', `${what}: not valid JSON (${(err as Error).message})`, undefined, { cause: err });
  }
  const obj = raw as Record<string, unknown> | null;
  if (obj && typeof obj === 'object' && obj.format !== undefined && (obj.format !== MANIFEST_FORMAT || obj.version !== MANIFEST_VERSION)) {
    throw new FormatError('E_MANIFEST', `${what}: format ${String(obj.format)} version ${String(obj.version)} is not ${MANIFEST_FORMAT} version ${MANIFEST_VERSION}`, 'upgrade the agent that reads it');
  }
  return validateManifest(raw, what, limits);
}

/** Total bytes of the files a manifest lists. */
export function manifestBytes(m: Manifest): number {
  return m.entries.reduce((n, e) => n + e.size, 0);
}

/** What the receiver already holds: sha256 → something it can link from (a path, a key). */
export interface ContentIndex<T = string> {
  get(sha256: string): T | undefined;
}

/**
 * The content a receiver lacks: one entry per distinct SHA-256 of `manifest` that `index`
 * does not hold (the first path listing it, in manifest order). The sender streams exactly these.
 */
export function lackingContent(manifest: Manifest, index: ContentIndex<unknown>): ManifestEntry[] {
  const seen = new Set<string>();
  const out: ManifestEntry[] = [];
  for (const e of manifest.entries) {
    if (seen.has(e.sha256)) continue;
    seen.add(e.sha256);
    if (index.get(e.sha256) === undefined) out.push(e);
  }
  return out;
}
