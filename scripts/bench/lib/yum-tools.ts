// Helpers of the yum benchmark, bundled by scripts/bench/yum.mjs with esbuild (they import the
// sources of @pkgfleet/shared, which Node cannot run directly):
//   generate DIR COUNT [PREFIX] [VERSION]   COUNT rpms of ~180 KiB (x86_64, aarch64, noarch)
//   repodata DIR...                         repodata/ for each DIR of (signed) rpms, the work
//                                           createrepo_c does: read every rpm, checksum it,
//                                           write primary/filelists/other and repomd.xml (no
//                                           signature: createrepo_c makes none either);
//                                           on this thread and one worker per other core
//                                           (yum-repodata-worker.ts), as createrepo_c uses
//                                           several threads
import { statSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gzip } from 'node:zlib';
import {
  filelistsHead, FILELISTS_TAIL, otherHead, OTHER_TAIL, primaryHead, PRIMARY_TAIL, repodataFileName, repomdXml,
  type RepomdRecord,
} from '@pkgfleet/shared';
import { writeGeneratedRpms } from '../../../test/helpers/rpms';
import { hashFiles, sha256, type Fragments, type Job } from './yum-repodata-worker';

const gzipAsync = promisify(gzip);
const PARTS = [['primary', primaryHead, PRIMARY_TAIL], ['filelists', filelistsHead, FILELISTS_TAIL], ['other', otherHead, OTHER_TAIL]] as const;

/**
 * Fragments of every job, on this thread and one worker per other core (a worker costs a Node
 * start-up: this thread, idle otherwise, takes files too).
 */
async function fragmentsOf(jobs: Job[]): Promise<Fragments[]> {
  const next = new Int32Array(new SharedArrayBuffer(4));
  const out: Fragments[] = new Array(jobs.length);
  const n = Math.max(0, Math.min(availableParallelism() - 1, jobs.length - 1));
  const workers = Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const w = new Worker(new URL('./yum-repodata-worker.mjs', import.meta.url), { workerData: { jobs, next } });
    w.on('message', (m: { ids: number[]; frags: Fragments[] }) => m.ids.forEach((id, k) => { out[id] = m.frags[k]!; }));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`repodata worker exited with ${code}`))));
  }));
  hashFiles(jobs, next, (i, f) => { out[i] = f; });
  await Promise.all(workers);
  return out;
}

/**
 * The work createrepo_c does for each DIR (a repository of signed rpms): read and checksum
 * every rpm, write primary/filelists/other and repomd.xml. A file that is in several DIRs
 * (noarch, hard-linked into every arch repository) is read once.
 */
async function repodata(dirs: string[]): Promise<void> {
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
  const frags = await fragmentsOf(jobs);
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
  }));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'generate') {
  await writeGeneratedRpms(args[0]!, Number(args[1]), { prefix: args[2], version: args[3] });
} else if (cmd === 'repodata') {
  const t0 = performance.now();
  await repodata(args);
  console.log(JSON.stringify({ ms: Math.round(performance.now() - t0) }));
} else {
  console.error('usage: yum-tools generate DIR COUNT [PREFIX] [VERSION] | repodata DIR...');
  process.exit(2);
}
