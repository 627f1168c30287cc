import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FileHashes } from '@pkgfleet/shared';

/**
 * MD5, SHA-1, SHA-256 and SHA-512 of whole files (what Packages lists), plus the file's first
 * bytes (where a .deb keeps its control data), reading each file once, in chunks.
 *
 * Many files are hashed on worker threads, one per core: hashing is what a cold publish of a
 * thousand packages spends its time on. The worker's code is a string that uses only Node
 * builtins, so it also runs inside the single executable (which cannot load a worker file).
 */
export interface HashedFile extends FileHashes {
  path: string;
  /** The first `headBytes` bytes (fewer if the file is shorter). */
  head: Uint8Array;
}

const CHUNK = 1 << 20;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, fstatSync } = require('node:fs');
const buf = Buffer.allocUnsafe(${CHUNK});
parentPort.on('message', ({ id, path, headBytes }) => {
  let fd;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const h = ['md5', 'sha1', 'sha256', 'sha512'].map((a) => createHash(a));
    const head = Buffer.alloc(Math.min(headBytes, size));
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      if (pos < head.length) chunk.copy(head, pos, 0, Math.min(n, head.length - pos));
      for (const x of h) x.update(chunk);
      pos += n;
    }
    const [md5, sha1, sha256, sha512] = h.map((x) => x.digest('hex'));
    const ab = head.buffer.slice(head.byteOffset, head.byteOffset + head.length);
    parentPort.postMessage({ id, ok: { path, size: pos, md5, sha1, sha256, sha512, head: new Uint8Array(ab) } }, [ab]);
  } catch (err) {
    parentPort.postMessage({ id, err: { message: err.message, code: err.code } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
});
`;

/** Hash one file on this thread (synchronous reads: one or a few files, no thread-pool round trips). */
export async function hashFile(path: string, headBytes: number): Promise<HashedFile> {
  const fd = openSync(path, 'r');
  try {
    const h = (['md5', 'sha1', 'sha256', 'sha512'] as const).map((a) => createHash(a));
    const buf = Buffer.allocUnsafe(CHUNK);
    const head = Buffer.alloc(Math.min(headBytes, fstatSync(fd).size));
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      if (pos < head.length) chunk.copy(head, pos, 0, Math.min(n, head.length - pos));
      for (const x of h) x.update(chunk);
      pos += n;
    }
    const [md5, sha1, sha256, sha512] = h.map((x) => x.digest('hex')) as [string, string, string, string];
    return { path, size: pos, md5, sha1, sha256, sha512, head };
  } finally {
    closeSync(fd);
  }
}

/**
 * Hash `paths`, calling `onFile` as each one is done (in completion order) so the caller can
 * process and drop it: the set is never held in memory. Rejects with the first error.
 */
export async function hashFiles(
  paths: readonly string[],
  headBytes: number,
  onFile: (f: HashedFile) => Promise<void> | void,
  opts: { workers?: number } = {},
): Promise<void> {
  const nWorkers = Math.min(opts.workers ?? availableParallelism(), Math.ceil(paths.length / 4));
  if (nWorkers <= 1) {
    for (const p of paths) await onFile(await hashFile(p, headBytes));
    return;
  }
  const workers = Array.from({ length: nWorkers }, () => new Worker(WORKER_SOURCE, { eval: true }));
  let next = 0;
  let failed: Error | undefined;
  const pending: Promise<void>[] = [];
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      const send = () => {
        if (failed || next >= paths.length) return resolve();
        const id = next++;
        w.postMessage({ id, path: paths[id], headBytes });
      };
      w.on('error', reject);
      w.on('message', (m: { id: number; ok?: HashedFile; err?: { message: string; code?: string } }) => {
        if (m.err) {
          const e = Object.assign(new Error(`${paths[m.id]}: ${m.err.message}`), { code: m.err.code });
          failed ??= e;
          return reject(e);
        }
        pending.push(Promise.resolve(onFile(m.ok!)).catch((e: Error) => { failed ??= e; }));
        send();
      });
      send();
    })));
    await Promise.all(pending);
    if (failed) throw failed;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
