import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { FormatError } from '../errors';
import { validateSnapshotPath, type Manifest, type ManifestEntry } from './manifest';

/**
 * The sending side of a snapshot, at the edge (fs): the manifest of a repository tree on disk and
 * a tar stream of some of its files. Used by `repo-agent import` and by the orchestrator's deploy.
 */

/** SHA-256 (hex) and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest('hex'), size };
}

/**
 * A file's identity and version (device, inode, size, mtime): equal keys mean the same, unchanged
 * file as far as a cache of what was read from it is concerned.
 */
export function fileVersion(st: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * SHA-256 of files already hashed, by identity (device, inode, size, mtime): published trees never
 * change a file in place (a new version is a new file), so a hit is the same content.
 */
export type HashCache = Map<string, string>;

/**
 * Walk `root` and list every regular file with size, SHA-256 and mode, sorted by path. A symlink,
 * device, FIFO or socket anywhere in the tree is refused: a snapshot holds regular files only.
 * With `cache`, files hashed before are not read again; the cache ends holding this tree's files only.
 */
export async function scanTree(root: string, cache?: HashCache): Promise<Manifest> {
  const seen: HashCache = new Map();
  const entries: ManifestEntry[] = [];
  const misses: Array<{ entry: ManifestEntry; id: string }> = [];
  // The walk is metadata only (readdir, lstat): synchronous calls cost a third of the same calls
  // through the thread pool (no hop, no promise each) over thousands of entries. It yields to the
  // event loop every few milliseconds so that work started beside it (a connection) progresses.
  // The entry types readdir gives (getdents' d_type) spare a stat per directory; files need one
  // for the cache key. Files not in the cache are hashed afterwards, streamed.
  async function walk(): Promise<void> {
    const dirs = [''];
    let lastYield = performance.now();
    for (let rel = dirs.pop(); rel !== undefined; rel = dirs.pop()) {
      for (const d of readdirSync(rel ? join(root, rel) : root, { withFileTypes: true })) {
        const relPath = rel ? `${rel}/${d.name}` : d.name;
        validateSnapshotPath(relPath, root);
        if (d.isDirectory()) {
          dirs.push(relPath);
          continue;
        }
        const st = lstatSync(join(root, relPath));
        if (st.isDirectory()) dirs.push(relPath);
        else if (st.isFile()) {
          const id = fileVersion(st);
          const entry: ManifestEntry = { path: relPath, size: st.size, sha256: cache?.get(id) ?? '', mode: st.mode & 0o777 };
          entries.push(entry);
          if (entry.sha256) seen.set(id, entry.sha256);
          else misses.push({ entry, id });
        } else {
          const kind = st.isSymbolicLink() ? 'a symlink' : 'not a regular file (device, FIFO or socket)';
          throw new FormatError('E_SNAPSHOT_FILE_TYPE', `${join(root, relPath)} is ${kind}`, 'a repository tree may hold regular files and directories only: replace links by copies');
        }
      }
      if (performance.now() - lastYield > 4) {
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
  }
  async function hashMisses(): Promise<void> {
    for (const { entry, id } of misses) {
      const { sha256, size } = await hashFile(join(root, entry.path));
      entry.sha256 = sha256;
      entry.size = size;
      seen.set(id, sha256);
    }
  }
  await walk();
  await hashMisses();
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (cache) {
    cache.clear();
    for (const [k, v] of seen) cache.set(k, v);
  }
  return { entries };
}

/** Files up to this size are read in one call (bounded memory: one at a time). */
const SMALL_FILE = 1 << 20;

/**
 * A tar stream (ustar/pax, regular files only) of `entries` read from `root`, streamed one file
 * at a time with backpressure. A file whose size changed since the manifest was made fails the
 * stream (the receiver would refuse it anyway).
 */
export function packTree(root: string, entries: readonly ManifestEntry[]): Readable {
  const pack = tar.pack();
  void (async () => {
    for (const e of entries) {
      const fh = await open(join(root, e.path), 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile() || st.size !== e.size) {
          throw new FormatError('E_SNAPSHOT_CHANGED', `${join(root, e.path)} changed since its manifest was made (size ${st.size}, expected ${e.size})`, 'do not modify a tree while it is being deployed');
        }
        const header = { name: e.path, size: e.size, mode: e.mode, type: 'file' as const, mtime: st.mtime };
        if (e.size <= SMALL_FILE) {
          // Most metadata: one read instead of a stream's round trips.
          const body = await fh.readFile();
          if (body.length !== e.size) throw new FormatError('E_SNAPSHOT_CHANGED', `${join(root, e.path)} changed while it was read (${body.length} bytes, expected ${e.size})`, 'do not modify a tree while it is being deployed');
          await new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));
        } else {
          await pipeline(fh.createReadStream({ autoClose: false }), pack.entry(header));
        }
      } finally {
        await fh.close();
      }
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  // tar-stream's streams are streamx streams: hand out a Node Readable.
  return Readable.from(pack);
}
