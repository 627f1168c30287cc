import type { Manifest, ManifestEntry } from './manifest';

/**
 * Files that a client names by content: apt's by-hash files (Acquire-By-Hash) and yum's
 * hash-prefixed repodata files. A client that read the previous InRelease or repomd.xml may still
 * ask for them after a swap, so they stay in the next snapshots for a grace period.
 */
export function isHashNamedPath(path: string): boolean {
  // DebianRepository/Format: dists/<suite>/<component>/binary-<arch>/by-hash/<HashType>/<hash>
  if (/(^|\/)dists\/[^/]+\/(.+\/)?by-hash\/[A-Za-z0-9]+\/[0-9a-f]{32,128}$/.test(path)) return true;
  // createrepo_c --unique-md-filenames: repodata/<hash>-<type>.<ext>
  return /(^|\/)repodata\/[0-9a-f]{32,128}-[^/]+$/.test(path);
}

/** A file kept from an earlier snapshot, present until `until` (ms since the epoch). */
export interface GraceEntry extends ManifestEntry {
  until: number;
}

/**
 * The hash-named files of the live snapshot (and those it still carries from earlier ones) that
 * the next snapshot must carry: every one the next manifest does not list itself, until
 * `now + graceMs` for files that were live until now, or their earlier deadline for carried ones.
 */
export function graceCarryOver(
  live: { entries: readonly ManifestEntry[]; grace: readonly GraceEntry[] },
  next: Manifest,
  now: number,
  graceMs: number,
): GraceEntry[] {
  if (graceMs <= 0) return [];
  const taken = new Set(next.entries.map((e) => e.path));
  const out: GraceEntry[] = [];
  for (const e of live.entries) {
    if (!isHashNamedPath(e.path) || taken.has(e.path)) continue;
    taken.add(e.path);
    out.push({ path: e.path, size: e.size, sha256: e.sha256, mode: e.mode, until: now + graceMs });
  }
  for (const g of live.grace) {
    if (g.until <= now || taken.has(g.path)) continue;
    taken.add(g.path);
    out.push({ ...g });
  }
  return dropPrefixConflicts(out, taken);
}

/** A carried file must not sit where the next snapshot has a file as a directory or vice versa. */
function dropPrefixConflicts(carried: GraceEntry[], taken: Set<string>): GraceEntry[] {
  return carried.filter((g) => {
    const segs = g.path.split('/');
    for (let i = 1; i < segs.length; i++) if (taken.has(segs.slice(0, i).join('/'))) return false;
    for (const p of taken) if (p.startsWith(g.path + '/')) return false;
    return true;
  });
}
