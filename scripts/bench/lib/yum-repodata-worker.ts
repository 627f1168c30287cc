// The repodata tool's worker (scripts/bench/lib/yum-tools.ts), bundled on its own so that a worker
// loads only the rpm reader and the <package> writers, not openpgp.js and the rest of the tool.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { filelistsPackage, otherPackage, packageFromRpm, primaryPackage, readRpm, type RepodataType } from '@pkgfleet/shared';

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface Job { path: string; href: string }
export type Fragments = Record<RepodataType, string>;

/**
 * Take the next file (a shared counter, so a slower thread takes fewer), read it once into a
 * reused buffer, checksum it, parse its headers, write its three <package> elements.
 */
export function hashFiles(jobs: Job[], next: Int32Array, done: (i: number, f: Fragments) => void): void {
  const buffer = Buffer.allocUnsafe(8 << 20);
  for (let i = Atomics.add(next, 0, 1); i < jobs.length; i = Atomics.add(next, 0, 1)) {
    const { path, href } = jobs[i]!;
    const fd = openSync(path, 'r');
    let bytes: Buffer;
    let mtime: number;
    try {
      const st = fstatSync(fd);
      mtime = Math.floor(st.mtimeMs / 1000);
      bytes = st.size <= buffer.length ? buffer.subarray(0, readSync(fd, buffer, 0, st.size, 0)) : readFileSync(path);
    } finally {
      closeSync(fd);
    }
    const pkg = packageFromRpm(readRpm(bytes, path));
    const pf = { href, sha256: sha256(bytes), size: bytes.length, mtime };
    done(i, { primary: primaryPackage(pkg, pf), filelists: filelistsPackage(pkg, pf), other: otherPackage(pkg, pf) });
  }
}

/** A worker's share, sent back in one message (a message per file costs more than the copy). */
function hashWorker(jobs: Job[], next: Int32Array): void {
  const ids: number[] = [];
  const frags: Fragments[] = [];
  hashFiles(jobs, next, (i, f) => { ids.push(i); frags.push(f); });
  parentPort!.postMessage({ ids, frags });
}


if (!isMainThread) hashWorker(workerData.jobs as Job[], workerData.next as Int32Array);
