import { renameSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { extname, join, relative, resolve } from 'node:path';
import { fsyncDir, swapSymlink, writeFileAtomic, type Logger, type Signer } from '@pkgfleet/shared';
import { openFileCache } from './cache';
import { PublishError, type FormatContext, type FormatSummary, type RepoFormat, type WriteContext } from './format';
import { repoFormats } from './formats';
import type { RepoSettings } from './settings';
import { CURRENT, currentTreeId, StagingTree } from './tree';

/**
 * `repo publish`: add packages to the repository tree at ROOT and switch to the new tree in one
 * rename (layout: tree.ts). The formats (apt, yum) do the format work; this does the rest.
 */
export interface PublishOptions {
  root: string;
  channel: string;
  /** Files and folders (searched recursively for files a format claims). */
  paths: readonly string[];
  signer: Signer;
  settings: RepoSettings;
  now: Date;
  logger: Logger;
  signal?: AbortSignal;
  /** Published trees kept under ROOT/trees, the live one included. */
  keepTrees?: number;
  /**
   * Hard-link input files into the pool instead of copying them. Only for inputs that are never
   * rewritten in place (files that land by rename, like the orchestrator's incoming store):
   * a later in-place change would change the published file.
   */
  linkInputs?: boolean;
  /**
   * Delete old trees on a worker thread while publishing and wait for it (default). The CLI does
   * not wait: it leaves them to a detached `rm -rf` once the new tree is live.
   */
  waitForCleanup?: boolean;
  /** For tests: the formats to use (default: repoFormats()). */
  formats?: RepoFormat[];
}

export interface PublishResult {
  id: string;
  /** Absolute path of the new tree (ROOT/current points at it). */
  tree: string;
  formats: FormatSummary[];
}

interface Snapshot {
  id: string;
  date: string;
  formats: Record<string, unknown>;
}

/** Expand folders, check every explicit file is claimed by a format, group by format. */
async function classify(paths: readonly string[], formats: readonly RepoFormat[]): Promise<Map<RepoFormat, string[]>> {
  const byExt = new Map<string, RepoFormat>();
  for (const f of formats) for (const e of f.extensions) byExt.set(e, f);
  const out = new Map<RepoFormat, Set<string>>();
  const add = (f: RepoFormat, p: string) => (out.get(f) ?? out.set(f, new Set()).get(f)!).add(p);
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      throw new PublishError('E_PUBLISH_INPUT', `${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`, undefined, { cause: err });
    }
    if (st.isDirectory()) {
      for (const e of await readdir(p, { recursive: true, withFileTypes: true })) {
        const fmt = byExt.get(extname(e.name).toLowerCase());
        if (!fmt) continue;
        const path = join(e.parentPath, e.name);
        if (e.isFile()) add(fmt, resolve(path));
        else if (e.isSymbolicLink()) add(fmt, await realpath(path));
      }
      continue;
    }
    const fmt = byExt.get(extname(p).toLowerCase());
    if (!fmt) throw new PublishError('E_PUBLISH_INPUT', `${p}: not a package this repository takes (${[...byExt.keys()].join(', ')})`, 'pass .deb or .rpm files, or folders of them');
    add(fmt, await realpath(p));
  }
  return new Map([...out].map(([f, s]) => [f, [...s].sort()]));
}

/** One publish at a time per root: O_EXCL lock file holding the pid; a dead holder's lock is taken over. */
async function lock(root: string): Promise<() => Promise<void>> {
  const file = join(root, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => unlink(file).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      let alive = false;
      try {
        if (pid > 0) { process.kill(pid, 0); alive = true; }
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
      if (alive) throw new PublishError('E_PUBLISH_LOCKED', `${root}: another publish (pid ${pid}) is running`, 'wait for it to finish');
      await unlink(file).catch(() => {});
    }
  }
  throw new PublishError('E_PUBLISH_LOCKED', `${root}: cannot take the publish lock ${file}`);
}

async function readSnapshot(root: string, id: string | undefined): Promise<Snapshot | undefined> {
  if (!id) return undefined;
  const file = join(root, 'state', `${id}.json`);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Snapshot;
  } catch (err) {
    throw new PublishError('E_PUBLISH_STATE', `${file}: the record of the live tree is missing or unreadable (${(err as Error).message})`, 'restore it from a backup, or publish into a new --root', { cause: err });
  }
}

function nextId(previous: string | undefined, now: Date): string {
  const seq = previous ? Number(previous.split('-')[0]) + 1 : 1;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${String(seq).padStart(6, '0')}-${stamp}`;
}

/** Hard-link a whole directory of the live tree into the new one (a format with no input). */
async function carryOver(tree: StagingTree, dir: string): Promise<void> {
  if (!tree.previousDir) return;
  let entries;
  try {
    entries = await readdir(join(tree.previousDir, dir), { recursive: true, withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isFile()) tree.linkPrevious(relative(tree.previousDir, join(e.parentPath, e.name)));
  }
}

/**
 * Old trees are renamed to trees/.trash-* when a publish starts (so a crash leaves nothing
 * half-deleted under a tree's name). Keeps the live tree and the `keep - 2` newest before it; the
 * new tree is added on success. Returns every trash entry (stages of crashed publishes included)
 * and, apart, the trees this call retired.
 */
async function retireOldTrees(root: string, keep: number, live: string | undefined): Promise<{ trash: string[]; retired: string[] }> {
  const dir = join(root, 'trees');
  const trees = (await readdir(dir)).filter((n) => /^\d{6}-/.test(n) && !n.includes('.tmp')).sort();
  const older = trees.filter((n) => n !== live);
  const retired: string[] = [];
  for (const id of older.slice(0, Math.max(0, older.length - Math.max(0, keep - 2)))) {
    rmSync(join(root, 'state', `${id}.json`), { force: true });
    renameSync(join(dir, id), join(dir, `.trash-${id}`));
    retired.push(join(dir, `.trash-${id}`));
  }
  const trash = (await readdir(dir)).filter((n) => n.startsWith('.trash-') || n.includes('.tmp-')).map((n) => join(dir, n));
  return { trash, retired };
}

/** Delete trash on a worker thread (thousands of unlinks), alongside the publish. */
function deleteOnWorker(paths: string[]): Promise<void> {
  if (paths.length === 0) return Promise.resolve();
  const worker = new Worker(
    "const { rmSync } = require('node:fs'); for (const p of require('node:worker_threads').workerData) rmSync(p, { recursive: true, force: true });",
    { eval: true, workerData: paths },
  );
  return new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', () => resolve());
  });
}

/**
 * Delete trash after this process is gone: a detached `rm -rf`, so that a command-line publish
 * neither waits for the unlinks nor has them compete with its own links (they touch the same inodes).
 * What it does not finish, the next publish hands to its own `rm`.
 */
function deleteDetached(paths: string[]): void {
  if (paths.length === 0) return;
  const child = spawn('rm', ['-rf', '--', ...paths], { detached: true, stdio: 'ignore' });
  child.on('error', () => {}); // no rm: the trash stays until a publish that waits deletes it
  child.unref();
}

export async function publish(o: PublishOptions): Promise<PublishResult> {
  const formats = o.formats ?? repoFormats();
  await mkdir(join(o.root, 'trees'), { recursive: true });
  await mkdir(join(o.root, 'state'), { recursive: true });
  const unlock = await lock(o.root);
  let copies: string | undefined;
  try {
    // old trees and stages a crashed publish left behind are deleted while this one works
    const { trash, retired } = await retireOldTrees(o.root, o.keepTrees ?? 2, await currentTreeId(o.root));
    // the newest tree retired by this publish becomes the next stage: a publish then changes only
    // what differs. Never older trash: an earlier CLI publish's detached rm -rf may still be
    // deleting it, and would go on unlinking inside the stage after the rename.
    const recyclable = retired.sort().pop();
    if (recyclable) trash.splice(trash.indexOf(recyclable), 1);
    const wait = o.waitForCleanup !== false;
    const deleted = wait ? deleteOnWorker(trash) : Promise.resolve();
    deleted.catch(() => {}); // awaited below; never an unhandled rejection meanwhile

    const t0 = performance.now();
    const phase = (name: string) => o.logger.debug(`publish phase ${name}`, { ms: Math.round(performance.now() - t0) });
    const groups = await classify(o.paths, formats);
    if (groups.size === 0) throw new PublishError('E_PUBLISH_INPUT', `no package files in ${o.paths.join(' ')}`, `pass ${formats.flatMap((f) => f.extensions).join(' or ')} files, or folders of them`);
    const prevId = await currentTreeId(o.root);
    const prev = await readSnapshot(o.root, prevId);
    const cache = await openFileCache(join(o.root, '.cache'));
    const signal = o.signal ?? new AbortController().signal;
    const id = nextId(prevId, o.now);
    // new inputs staged while they are read (copies, or hard links with linkInputs): beside the
    // stage (the same file system, so they are renamed into the pool); a crashed publish's is
    // trash for the next one ('.tmp-')
    copies = join(o.root, 'trees', `${id}.tmp-${process.pid}-in`);
    await mkdir(copies);
    const ctx: FormatContext = { suite: o.channel, settings: o.settings, cache, now: o.now, logger: o.logger, signal, copies, linkInputs: o.linkInputs === true };

    // 1. read and check every input before anything is written
    const planned: Array<{ format: RepoFormat; state: unknown }> = [];
    for (const format of formats) {
      const files = groups.get(format);
      if (!files) continue;
      const previous = prev?.formats[format.name] !== undefined ? format.parseState(prev.formats[format.name]) : format.emptyState();
      const records = await format.ingest(files, ctx, previous);
      signal.throwIfAborted();
      planned.push({ format, state: format.plan(previous, records, ctx) });
    }

    phase('read');
    // 2. build the new tree beside the live one
    const stageDir = join(o.root, 'trees', `${id}.tmp-${process.pid}`);
    const tree = new StagingTree(stageDir, prevId ? join(o.root, 'trees', prevId) : undefined, o.linkInputs, recyclable?.slice(recyclable.lastIndexOf('/.trash-') + '/.trash-'.length));
    const snapshot: Snapshot = { id, date: o.now.toISOString(), formats: { ...prev?.formats } };
    const summaries: FormatSummary[] = [];
    try {
      if (recyclable) renameSync(recyclable, stageDir);
      else await mkdir(stageDir);
      const wctx: WriteContext = { ...ctx, tree, signer: o.signer, previousId: prevId };
      for (const format of formats) {
        const p = planned.find((x) => x.format === format);
        if (!p) {
          await carryOver(tree, format.dir);
          continue;
        }
        summaries.push(await format.write(p.state, wctx));
        snapshot.formats[format.name] = p.state;
        signal.throwIfAborted();
      }
      await tree.writeFile(`gpg/${o.settings.keyName}.asc`, o.signer.publicKeyArmored());
      await tree.writeFile(`gpg/${o.settings.keyName}.gpg`, o.signer.publicKeyBinary());
      phase('write');
      await tree.commit();
      phase('sync');
      signal.throwIfAborted();
      // 3. switch: the tree gets its final name, its record is written, then `current` moves
      await rename(stageDir, join(o.root, 'trees', id));
      await fsyncDir(join(o.root, 'trees'));
    } catch (err) {
      await tree.discard();
      throw err;
    }
    try {
      await writeFileAtomic(join(o.root, 'state', `${id}.json`), JSON.stringify(snapshot));
      await swapSymlink(`trees/${id}`, join(o.root, CURRENT));
    } catch (err) {
      await rm(join(o.root, 'trees', id), { recursive: true, force: true });
      await rm(join(o.root, 'state', `${id}.json`), { force: true });
      throw err;
    }
    await cache.save();
    if (wait) await deleted;
    else deleteDetached(trash);
    phase('done');
    return { id, tree: join(o.root, 'trees', id), formats: summaries };
  } finally {
    // what is left of the copies (inputs already published, or a failed publish's) goes
    if (copies) await rm(copies, { recursive: true, force: true });
    await unlock();
  }
}
