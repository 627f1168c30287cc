// Helpers of the yum benchmark, bundled by scripts/bench/yum.mjs with esbuild (they import the
// sources of @pkgfleet/shared, which Node cannot run directly):
//   generate DIR COUNT [PREFIX] [VERSION]   COUNT rpms of ~180 KiB (x86_64, aarch64, noarch)
//   repodata KEY DIR...                     repodata/ for each DIR of (signed) rpms, the work
//                                           createrepo_c does: read every rpm, checksum it,
//                                           write primary/filelists/other, repomd.xml(.asc);
//                                           on one worker thread per core, as createrepo_c
//                                           uses several threads
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { gzip } from 'node:zlib';
import {
  filelistsHead, FILELISTS_TAIL, filelistsPackage, loadSigner, otherHead, OTHER_TAIL, otherPackage, packageFromRpm,
  primaryHead, PRIMARY_TAIL, primaryPackage, readRpm, repodataFileName, repomdXml, type RepomdRecord, type RepodataType,
} from '@pkgfleet/shared';
import { writeGeneratedRpms } from '../../../test/helpers/rpms';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gzipAsync = promisify(gzip);
const PARTS = [['primary', primaryHead, PRIMARY_TAIL], ['filelists', filelistsHead, FILELISTS_TAIL], ['other', otherHead, OTHER_TAIL]] as const;

interface Job { path: string; href: string }
type Fragments = Record<RepodataType, string>;

/**
 * Take the next file (a shared counter, so a slower thread takes fewer), read it once into a
 * reused buffer, checksum it, parse its headers, write its three <package> elements.
 */
function hashFiles(jobs: Job[], next: Int32Array, done: (i: number, f: Fragments) => void): void {
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

/**
 * Fragments of every job, on this thread and one worker per other core (a worker costs a Node
 * start-up: this thread, idle otherwise, takes files too once the signing key is loaded).
 */
async function fragmentsOf(jobs: Job[], before: Promise<unknown>): Promise<Fragments[]> {
  const next = new Int32Array(new SharedArrayBuffer(4));
  const out: Fragments[] = new Array(jobs.length);
  const n = Math.max(0, Math.min(availableParallelism() - 1, jobs.length - 1));
  const workers = Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { jobs, next } });
    w.on('message', (m: { ids: number[]; frags: Fragments[] }) => m.ids.forEach((id, k) => { out[id] = m.frags[k]!; }));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`repodata worker exited with ${code}`))));
  }));
  await before;
  hashFiles(jobs, next, (i, f) => { out[i] = f; });
  await Promise.all(workers);
  return out;
}

/**
 * The work createrepo_c does for each DIR (a repository of signed rpms): read and checksum
 * every rpm, write primary/filelists/other, repomd.xml and its signature. A file that is in
 * several DIRs (noarch, hard-linked into every arch repository) is read once.
 */
async function repodata(keyFile: string, dirs: string[]): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const listed = await Promise.all(dirs.map(async (dir) => (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.rpm')).sort()));
  const jobs: Job[] = [];
  const byInode = new Map<string, number>();
  const jobOf = listed.map((files, d) => files.map((href) => {
    const path = join(dirs[d]!, href);
    const st = statSync(path);
    const key = `${st.dev}:${st.ino}:${href}`; // the same file under the same name: same elements
    let j = byInode.get(key);
    if (j === undefined) {
      j = jobs.push({ path, href }) - 1;
      byInode.set(key, j);
    }
    return j;
  }));
  // the key (openpgp.js) loads on this thread while the worker starts reading the rpms
  const signer = readFile(keyFile, 'utf8').then((k) => loadSigner(k, undefined));
  const frags = await fragmentsOf(jobs, signer);
  await Promise.all(dirs.map(async (dir, d) => {
    await mkdir(join(dir, 'repodata'), { recursive: true });
    const ids = jobOf[d]!;
    const records = await Promise.all(PARTS.map(async ([type, head, tail]) => {
      const text = Buffer.from(head(ids.length) + ids.map((j) => frags[j]![type]).join('') + tail);
      const gz = await gzipAsync(text, { level: 2 }); // as the publish writes them
      const checksum = sha256(gz);
      const href = `repodata/${repodataFileName(type, checksum)}`;
      await writeFile(join(dir, href), gz);
      return { type, href, checksum, size: gz.length, openChecksum: sha256(text), openSize: text.length, timestamp: now } satisfies RepomdRecord;
    }));
    const repomd = Buffer.from(repomdXml(now, records));
    await writeFile(join(dir, 'repodata/repomd.xml'), repomd);
    await writeFile(join(dir, 'repodata/repomd.xml.asc'), await (await signer).signDetachedArmored(repomd));
  }));
}

const [cmd, ...args] = process.argv.slice(2);
if (!isMainThread) {
  hashWorker(workerData.jobs as Job[], workerData.next as Int32Array);
} else if (cmd === 'generate') {
  await writeGeneratedRpms(args[0]!, Number(args[1]), { prefix: args[2], version: args[3] });
} else if (cmd === 'repodata') {
  const t0 = performance.now();
  await repodata(args[0]!, args.slice(1));
  console.log(JSON.stringify({ ms: Math.round(performance.now() - t0) }));
} else {
  console.error('usage: yum-tools generate DIR COUNT [PREFIX] [VERSION] | repodata KEY DIR...');
  process.exit(2);
}
