import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FileHashes } from '@pkgfleet/shared';

/**
 * MD5, SHA-1, SHA-256 and SHA-512 of whole files (what Packages lists), plus the file's first
 * bytes (where a .deb keeps its control data), reading each file once, in chunks. Optionally the
 * same pass writes a copy of the file (`copyDir`): the copy then holds exactly the bytes that were
 * hashed, and the input is read once instead of once to hash and once to copy.
 *
 * Many files are hashed on worker threads, one per core: hashing is what a cold publish of a
 * thousand packages spends its time on. The workers take the next file from a shared counter (no
 * round trip per file) and fsync each copy on the thread pool while they hash the next file, so
 * the copies are durable when hashing ends. The worker's code is a string that uses only Node
 * builtins, so it also runs inside the single executable (which cannot load a worker file).
 */
export interface HashedFile extends FileHashes {
  path: string;
  /** The first `headBytes` bytes (fewer if the file is shorter). */
  head: Uint8Array;
  /**
   * With `copyDir`: the copy of the file, holding the bytes hashed. Durable (fsynced) when
   * `durable` is true (copies made on workers); else the caller must fsync it.
   */
  copy?: string;
  durable?: boolean;
}

export interface HashOptions {
  workers?: number;
  /** Write a copy of each file as `copyDir/<index of the file in paths>` (the directory exists). */
  copyDir?: string;
}

const CHUNK = 1 << 20;

/**
 * Read the file open at `fd` to its end in `buf`-sized chunks: feed every digest, keep its first
 * `head.length` bytes in `head`, and write each chunk to `out` when given; returns the bytes read.
 * Used on this thread and, as its source text, by the workers: it refers only to its arguments.
 */
function readHashCopy(fd: number, out: number | undefined, buf: Buffer, head: Buffer, h: readonly Hash[], read: typeof readSync, write: typeof writeSync): number {
  let pos = 0;
  for (;;) {
    const n = read(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    const chunk = buf.subarray(0, n);
    if (pos < head.length) chunk.copy(head, pos, 0, Math.min(n, head.length - pos));
    for (const x of h) x.update(chunk);
    for (let w = 0; out !== undefined && w < n;) w += write(out, chunk, w, n - w);
    pos += n;
  }
  return pos;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, writeSync, closeSync, fstatSync, fsync, close } = require('node:fs');
// the job comes as a message: a worker can be started before it is known (prestartHashWorkers)
parentPort.once('message', ({ paths, headBytes, copyDir, counter }) => {
// counter[0]: next file to take; counter[1]: set by the parent to stop early
const ctl = new Int32Array(counter);
const buf = Buffer.allocUnsafe(${CHUNK});
const readHashCopy = ${readHashCopy.toString()};
let syncing = 0;
let taken = false;
const finish = () => { if (taken && syncing === 0) parentPort.postMessage({ end: true }); };
function one(id) {
  const path = paths[id];
  let fd;
  let out;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const h = ['md5', 'sha1', 'sha256', 'sha512'].map((a) => createHash(a));
    const head = Buffer.alloc(Math.min(headBytes, size));
    const copy = copyDir === undefined ? undefined : copyDir + '/' + id;
    if (copy !== undefined) out = openSync(copy, 'wx', 0o644);
    const pos = readHashCopy(fd, out, buf, head, h, readSync, writeSync);
    const [md5, sha1, sha256, sha512] = h.map((x) => x.digest('hex'));
    const ab = head.buffer.slice(head.byteOffset, head.byteOffset + head.length);
    parentPort.postMessage({ id, ok: { path, size: pos, md5, sha1, sha256, sha512, head: new Uint8Array(ab), copy, durable: copy !== undefined } }, [ab]);
    if (out !== undefined) {
      const o = out;
      out = undefined;
      syncing++;
      fsync(o, (err) => close(o, () => {
        syncing--;
        parentPort.postMessage(err ? { id, err: { message: 'cannot make the copy durable (' + (err.code || err.message) + ')', code: err.code } } : { id, synced: true });
        finish();
      }));
    }
  } catch (err) {
    parentPort.postMessage({ id, err: { message: err.message, code: err.code } });
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (out !== undefined) closeSync(out);
  }
}
function next() {
  const id = Atomics.load(ctl, 1) ? paths.length : Atomics.add(ctl, 0, 1);
  if (id >= paths.length) { taken = true; return finish(); }
  one(id);
  setImmediate(next); // lets the fsync callbacks of earlier copies run
}
next();
});
`;

/**
 * Hash one file on this thread (synchronous reads: one or a few files, no thread-pool round trips).
 * With `copy`, also write the bytes read to that new file (not fsynced: `durable` is false).
 */
export async function hashFile(path: string, headBytes: number, copy?: string): Promise<HashedFile> {
  const fd = openSync(path, 'r');
  let out: number | undefined;
  try {
    const h = (['md5', 'sha1', 'sha256', 'sha512'] as const).map((a) => createHash(a));
    const buf = Buffer.allocUnsafe(CHUNK);
    const head = Buffer.alloc(Math.min(headBytes, fstatSync(fd).size));
    if (copy !== undefined) out = openSync(copy, 'wx', 0o644);
    const pos = readHashCopy(fd, out, buf, head, h, readSync, writeSync);
    const [md5, sha1, sha256, sha512] = h.map((x) => x.digest('hex')) as [string, string, string, string];
    return { path, size: pos, md5, sha1, sha256, sha512, head, ...(copy !== undefined && { copy, durable: false }) };
  } finally {
    closeSync(fd);
    if (out !== undefined) closeSync(out);
  }
}

/** How many worker threads hash `files` files: none (this thread) for a few. */
export function workersFor(files: number, max = availableParallelism()): number {
  const n = Math.min(max, Math.ceil(files / 4));
  return n > 1 ? n : 0;
}

/** Workers started ahead of a job (prestartHashWorkers), idle until hashFiles takes them. */
const spare: Worker[] = [];

/**
 * Start the hashing workers now, while the caller does other work (loading modules, its config and
 * key): a worker takes tens of milliseconds to start, and a cold publish otherwise waits for that
 * before the first file is read. Idle, they keep no process alive; releaseHashWorkers ends those
 * never used.
 */
export function prestartHashWorkers(n: number): void {
  while (spare.length < n) {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('error', () => {}); // reported by hashFiles if taken
    w.once('exit', () => {
      const i = spare.indexOf(w);
      if (i >= 0) spare.splice(i, 1); // never taken once ended
    });
    spare.push(w);
  }
}

/** How many prestarted workers are running and waiting for a job. */
export function spareHashWorkers(): number {
  return spare.length;
}

/** End the prestarted workers no hashFiles took. */
export async function releaseHashWorkers(): Promise<void> {
  await Promise.all(spare.splice(0).map((w) => w.terminate()));
}

type WorkerMessage =
  | { end: true }
  | { id: number; ok: HashedFile }
  | { id: number; synced: true }
  | { id: number; err: { message: string; code?: string } };

/**
 * Hash `paths`, calling `onFile` as each one is done (in completion order) so the caller can
 * process and drop it: the set is never held in memory. Resolves once every file is hashed, every
 * `onFile` has settled and (on workers) every copy is durable; rejects with the first error.
 */
export async function hashFiles(
  paths: readonly string[],
  headBytes: number,
  onFile: (f: HashedFile) => Promise<void> | void,
  opts: HashOptions = {},
): Promise<void> {
  const nWorkers = workersFor(paths.length, opts.workers);
  const { copyDir } = opts;
  if (nWorkers === 0) {
    for (const [i, p] of paths.entries()) await onFile(await hashFile(p, headBytes, copyDir === undefined ? undefined : `${copyDir}/${i}`));
    return;
  }
  const counter = new SharedArrayBuffer(8);
  const ctl = new Int32Array(counter);
  const workers = spare.splice(0, nWorkers);
  while (workers.length < nWorkers) workers.push(new Worker(WORKER_SOURCE, { eval: true }));
  for (const w of workers) {
    w.ref();
    w.postMessage({ paths, headBytes, copyDir, counter });
  }
  let failed: Error | undefined;
  const fail = (e: Error) => {
    failed ??= e;
    Atomics.store(ctl, 1, 1); // the workers take no further file
  };
  const pending: Promise<void>[] = [];
  try {
    await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
      w.on('error', reject);
      w.on('exit', () => resolve()); // after an error the worker is terminated
      w.on('message', (m: WorkerMessage) => {
        if ('end' in m) return resolve();
        if ('err' in m) {
          const e = Object.assign(new Error(`${paths[m.id]}: ${m.err.message}`), { code: m.err.code });
          fail(e);
          return reject(e);
        }
        if ('ok' in m) pending.push(Promise.resolve(onFile(m.ok)).catch(fail));
      });
    })));
    await Promise.all(pending);
    if (failed) throw failed;
  } finally {
    Atomics.store(ctl, 1, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
