import { statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Which file a cache entry describes: a changed file never matches its old entry, because
 * writing it changes its size or mtime, and replacing it changes its inode or birth time.
 * (A hard link keeps all of these, so a pool file carried into the next tree keeps its entry.)
 */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeNs: bigint;
  birthtimeNs: bigint;
}

export async function identityOf(path: string): Promise<FileIdentity> {
  // synchronous: called once per input file in a loop, where a thread-pool round trip per file
  // costs more than the stat itself
  const st = statSync(path, { bigint: true });
  return { dev: Number(st.dev), ino: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs, birthtimeNs: st.birthtimeNs };
}

export function identityKey(id: FileIdentity): string {
  return `${id.dev}:${id.ino}:${id.size}:${id.mtimeNs}:${id.birthtimeNs}`;
}

/**
 * Records derived from file contents (parsed control fields, hashes), so that a file already
 * read is not read again. `kind` separates formats ('deb', 'rpm') and record versions.
 */
export interface MetadataCache {
  get<T>(kind: string, id: FileIdentity): T | undefined;
  set<T>(kind: string, id: FileIdentity, value: T): void;
  /** Persist (no-op for the in-memory cache). */
  save(): Promise<void>;
}

interface Entry { k: string; v: unknown; t: number }

/** Kinds no format writes any more: dropped when the cache is read. */
const RETIRED_KINDS = ['deb-v1'];

/** A JSON file under ROOT/.cache (outside the served tree); the newest `max` entries are kept. */
export async function openFileCache(dir: string, max = 20_000): Promise<MetadataCache> {
  const file = join(dir, 'metadata.json');
  const map = new Map<string, Entry>();
  let generation = 0;
  let dirty = false;
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as { generation: number; entries: Entry[] };
    generation = raw.generation;
    for (const e of raw.entries) {
      if (RETIRED_KINDS.some((k) => e.k.startsWith(`${k}|`))) dirty = true;
      else map.set(e.k, e);
    }
  } catch {
    // no cache yet, or unreadable: start empty (a cache miss only costs a read)
  }
  generation++;
  return {
    get<T>(kind: string, id: FileIdentity): T | undefined {
      const e = map.get(`${kind}|${identityKey(id)}`);
      if (!e) return undefined;
      if (e.t !== generation) { e.t = generation; dirty = true; }
      return e.v as T;
    },
    set(kind, id, value) {
      map.set(`${kind}|${identityKey(id)}`, { k: `${kind}|${identityKey(id)}`, v: value, t: generation });
      dirty = true;
    },
    async save() {
      if (!dirty) return;
      const entries = [...map.values()].sort((a, b) => b.t - a.t).slice(0, max);
      // rename without fsync: a cache lost in a crash only costs reading the files again
      const tmp = `${file}.tmp-${process.pid}`;
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, JSON.stringify({ generation, entries }));
      await rename(tmp, file);
      dirty = false;
    },
  };
}

export function memoryCache(): MetadataCache {
  const map = new Map<string, unknown>();
  return {
    get: <T>(kind: string, id: FileIdentity) => map.get(`${kind}|${identityKey(id)}`) as T | undefined,
    set: (kind, id, value) => void map.set(`${kind}|${identityKey(id)}`, value),
    save: async () => {},
  };
}
