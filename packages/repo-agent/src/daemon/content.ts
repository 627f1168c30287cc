import { isHashNamedPath } from '@pkgfleet/shared';

/**
 * How a file of a repository is served: its Content-Type and how long caches may keep it. The
 * same rules are written out for nginx in deploy/nginx/pkgfleet.conf. Pure.
 */

const TEXT = 'text/plain; charset=utf-8';

const BY_EXTENSION: Record<string, string> = {
  deb: 'application/vnd.debian.binary-package',
  udeb: 'application/vnd.debian.binary-package',
  ddeb: 'application/vnd.debian.binary-package',
  rpm: 'application/x-rpm',
  xml: 'application/xml',
  gz: 'application/gzip',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  bz2: 'application/x-bzip2',
  lz4: 'application/x-lz4',
  json: 'application/json',
  repo: TEXT,
  txt: TEXT,
  html: 'text/html; charset=utf-8',
};

/** Metadata without an extension that apt reads as text (DebianRepository/Format). */
const TEXT_NAMES = new Set(['Release', 'InRelease', 'Packages', 'Sources', 'Translation', 'Index']);

export function contentTypeOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (TEXT_NAMES.has(name) || /^(Contents|Translation|Components|Commands)-[^.]+$/.test(name)) return TEXT;
  if (name === 'Release.gpg' || name.endsWith('.xml.asc') || name.endsWith('.sig')) return 'application/pgp-signature';
  if (name.endsWith('.asc') || name.endsWith('.gpg')) return 'application/pgp-keys';
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  return BY_EXTENSION[ext] ?? 'application/octet-stream';
}

/** Entry points that change with every snapshot: a short max-age, so a swap is seen quickly. */
const ENTRY_POINTS = /(^|\/)(InRelease|Release|Release\.gpg|repomd\.xml|repomd\.xml\.asc)$/;

export const CACHE_SHORT = 'public, max-age=60';
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
export const CACHE_POOL = 'public, max-age=604800';
export const CACHE_DEFAULT = 'public, max-age=300';

export function cacheControlOf(path: string): string {
  if (ENTRY_POINTS.test(path)) return CACHE_SHORT;
  // Named by their hash: the name changes whenever the content does.
  if (isHashNamedPath(path)) return CACHE_IMMUTABLE;
  // Packages: one name, one content (dpkg/rpm versioned file names).
  if (/(^|\/)pool\//.test(path) || /\.(deb|udeb|ddeb|rpm)$/.test(path)) return CACHE_POOL;
  // Indexes at fixed names (Packages, Packages.gz…) change with the snapshot.
  if (/(^|\/)dists\//.test(path) || /(^|\/)repodata\//.test(path)) return CACHE_SHORT;
  return CACHE_DEFAULT;
}
