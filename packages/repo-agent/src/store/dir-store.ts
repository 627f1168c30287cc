import { createHash } from 'node:crypto';
import { createReadStream, constants as fsc } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  fileVersion,
  fsyncDir,
  PkgfleetError,
  scanTree,
  swapSymlink,
  validateManifest,
  validateSnapshotPath,
  writeFileAtomic,
  type GraceEntry,
  type Logger,
  type ManifestEntry,
} from '@pkgfleet/shared';
import { acquireLock, type HeldLock } from './lock';
import type { ContentRef, SnapshotRecord, StagedSnapshot, Store } from './store';

/**
 * Snapshots as directories on one file system (DESIGN.md, on-disk layout):
 *   <root>/snapshots/<id>/     complete trees, unchanged files hard-linked between them
 *   <root>/manifests/<id>.json the SnapshotRecord kept beside each snapshot
 *   <root>/current             symlink to snapshots/<id>: the web root, swapped by rename
 *   <root>/staging/<id>/       a snapshot being received (private, removed on failure)
 *   <root>/staging/.spare.<id>/ a private copy of committed snapshot <id> (directories and hard
 *                              links, fsynced) that the next deploy starts from; valid only
 *                              while .spare.<id>.json beside it lists its files
 *   <root>/lock                the write lock
 * A snapshot exists once its directory sits in snapshots/ and its record in manifests/; the
 * record is written first, the directory renamed last, so a crash never leaves a half tree there.
 */

export const RECORD_FORMAT = 'pkgfleet-snapshot-record';
const SPARE_FORMAT = 'pkgfleet-spare-tree';
const SPARE_RE = /^\.spare\.([A-Za-z0-9][A-Za-z0-9._-]{0,127})(\.json)?$/;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class StoreError extends PkgfleetError {}

export function validateSnapshotId(id: string): string {
  if (!ID_RE.test(id)) {
    throw new StoreError('E_SNAPSHOT_ID', `snapshot id ${JSON.stringify(id)} is not valid`, 'ids are 1-128 characters of A-Z a-z 0-9 . _ - and start with a letter or digit');
  }
  return id;
}

/** A new snapshot id that sorts by time: 20260101-120000-1a2b3c. */
export function newSnapshotId(now: Date, random: string): string {
  const iso = now.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${random}`;
}

function fsError(err: unknown, what: string, hint: string): PkgfleetError {
  if (err instanceof PkgfleetError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === 'ENOSPC' ? 'no space left on the device' : code === 'EDQUOT' ? 'disk quota exceeded' : (err as Error).message;
  return new StoreError(code === 'ENOSPC' || code === 'EDQUOT' ? 'E_STORE_FULL' : 'E_STORE_IO', `${what}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`, hint, { cause: err });
}

export class DirStore implements Store {
  readonly location: string;
  readonly snapshotsDir: string;
  readonly manifestsDir: string;
  readonly stagingDir: string;
  readonly currentLink: string;
  readonly lockPath: string;
  /** Parsed records by id, with the version (inode, size, mtime) of the file they were read from. */
  private readonly records = new Map<string, { version: string; record: SnapshotRecord }>();
  /** The list of the spare tree this process prepared. */
  private spareList: { version: string; entries: ManifestEntry[] } | undefined;

  constructor(readonly root: string, readonly logger?: Logger) {
    this.location = root;
    this.snapshotsDir = join(root, 'snapshots');
    this.manifestsDir = join(root, 'manifests');
    this.stagingDir = join(root, 'staging');
    this.currentLink = join(root, 'current');
    this.lockPath = join(root, 'lock');
  }

  /** Create the directories (idempotent). */
  async init(): Promise<void> {
    for (const d of [this.root, this.snapshotsDir, this.manifestsDir, this.stagingDir]) await mkdir(d, { recursive: true });
  }

  private recordPath(id: string): string {
    return join(this.manifestsDir, `${id}.json`);
  }

  async list(): Promise<SnapshotRecord[]> {
    let dirs: string[];
    try {
      dirs = await readdir(this.snapshotsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(err, `reading ${this.snapshotsDir}`, 'check the state directory');
    }
    const out: SnapshotRecord[] = [];
    await Promise.all(dirs.filter((id) => ID_RE.test(id)).map(async (id) => {
      try {
        out.push(await this.record(id));
      } catch (err) {
        this.logger?.warn(`snapshot ${id} is skipped: ${(err as Error).message}`);
      }
    }));
    return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async record(id: string): Promise<SnapshotRecord> {
    validateSnapshotId(id);
    const path = this.recordPath(id);
    let text: string;
    let version: string;
    try {
      // A record is written once (by rename) and never changed: one parsed copy per version of
      // the file, so a long-running daemon does not re-read every retained record on each deploy.
      const st = await stat(path);
      version = fileVersion(st);
      const cached = this.records.get(id);
      if (cached?.version === version) {
        await stat(join(this.snapshotsDir, id));
        return cached.record;
      }
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new StoreError('E_SNAPSHOT_UNKNOWN', `snapshot ${id}: no such snapshot in ${this.snapshotsDir}`, 'run `repo-agent list` to see the snapshots on disk');
      }
      throw fsError(err, `reading ${path}`, 'check the state directory');
    }
    try {
      const raw = JSON.parse(text) as Record<string, unknown>;
      if (raw.format !== RECORD_FORMAT || raw.id !== id || typeof raw.createdAt !== 'string') throw new Error('not a snapshot record for this id');
      const { entries } = validateManifest({ entries: raw.entries }, path);
      const grace = validateManifest({ entries: raw.grace }, path).entries.map((e, i) => ({ ...e, until: Number((raw.grace as GraceEntry[])[i]!.until) }));
      await stat(join(this.snapshotsDir, id));
      const record = { id, createdAt: raw.createdAt, entries, grace };
      this.records.set(id, { version, record });
      return record;
    } catch (err) {
      if (err instanceof PkgfleetError) throw err;
      throw new StoreError('E_SNAPSHOT_RECORD', `snapshot ${id}: ${path} is unusable (${(err as Error).message})`, 'remove the snapshot with `repo-agent gc` or restore the record', { cause: err });
    }
  }

  async live(): Promise<string | undefined> {
    try {
      const target = await readlink(this.currentLink);
      const m = /^snapshots\/([^/]+)$/.exec(target);
      return m ? m[1] : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, `reading ${this.currentLink}`, 'current must be a symlink to snapshots/<id>');
    }
  }

  async begin(id: string, opts: { useSpare?: boolean } = {}): Promise<StagedSnapshot> {
    validateSnapshotId(id);
    await this.init();
    try {
      await lstat(join(this.snapshotsDir, id));
      throw new StoreError('E_SNAPSHOT_EXISTS', `snapshot ${id} already exists in ${this.snapshotsDir}`, 'deploy under another id');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const dir = join(this.stagingDir, id);
    await rm(dir, { recursive: true, force: true });
    const base = opts.useSpare ? await this.takeSpare(dir) : undefined;
    if (!base) await mkdir(dir, { recursive: true });
    return new DirStaged(this, id, dir, base);
  }

  /** The spare tree in staging/ whose list of files is beside it, if any: its base snapshot's id. */
  private spareOf(names: readonly string[]): string | undefined {
    for (const n of names) {
      const m = SPARE_RE.exec(n);
      if (m && !m[2] && names.includes(`${n}.json`)) return m[1];
    }
    return undefined;
  }

  /**
   * Move the spare tree to `dir` for a deploy to stage over, and return the files it holds. Its
   * list goes first: a tree without one is a leftover that recover() removes.
   */
  private async takeSpare(dir: string): Promise<ManifestEntry[] | undefined> {
    const base = this.spareOf(await readdir(this.stagingDir));
    if (base === undefined) return undefined;
    const tree = join(this.stagingDir, `.spare.${base}`);
    const list = `${tree}.json`;
    try {
      const st = await stat(list);
      const version = fileVersion(st);
      let entries = this.spareList?.version === version ? this.spareList.entries : undefined;
      if (!entries) {
        const raw = JSON.parse(await readFile(list, 'utf8')) as Record<string, unknown>;
        if (raw.format !== SPARE_FORMAT || raw.base !== base) throw new Error(`not a ${SPARE_FORMAT} list for ${base}`);
        entries = validateManifest({ entries: raw.entries }, list).entries;
      }
      this.spareList = undefined;
      await unlink(list);
      await rename(tree, dir);
      return entries;
    } catch (err) {
      this.logger?.warn(`the spare tree ${tree} is not usable; the deploy lays out every file`, { reason: (err as Error).message });
      await rm(list, { force: true });
      await rm(tree, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
      return undefined;
    }
  }

  /**
   * Lay out a copy of committed snapshot `record` in staging/.spare.<id>/: every directory, a hard
   * link for every file, every directory fsynced, then the list of its files beside it (written
   * atomically, fsynced). Only then is it used: the deploy that takes it inherits directories and
   * links that are already durable, and fsyncs only the directories it changes.
   */
  async prepareSpare(record: SnapshotRecord): Promise<void> {
    validateSnapshotId(record.id);
    const names = await readdir(this.stagingDir);
    // Older spares: their list first, so a half-removed tree is never taken.
    for (const n of names) if (SPARE_RE.exec(n)?.[2]) await rm(join(this.stagingDir, n), { force: true });
    for (const n of names) if (SPARE_RE.test(n)) await rm(join(this.stagingDir, n), { recursive: true, force: true });
    const tree = join(this.stagingDir, `.spare.${record.id}`);
    const src = join(this.snapshotsDir, record.id);
    const files = [...record.entries, ...record.grace];
    const dirs = dirsOf(files.map((f) => f.path));
    await mkdir(tree);
    for (const level of byDepth(dirs)) await inParallel(level, PLACE_PARALLEL, (d) => mkdir(join(tree, d), { mode: 0o755 }));
    await inParallel(files, PLACE_PARALLEL, (f) => link(join(src, f.path), join(tree, f.path)));
    await inParallel([tree, ...dirs.map((d) => join(tree, d))], FSYNC_PARALLEL, fsyncDir);
    // writeFileAtomic fsyncs staging/ after its rename, which also makes the tree's entry durable.
    const entries = files.map(({ path, size, sha256, mode }) => ({ path, size, sha256, mode }));
    await writeFileAtomic(`${tree}.json`, JSON.stringify({ format: SPARE_FORMAT, base: record.id, entries }));
    const st = await stat(`${tree}.json`);
    // The list as written, for takeSpare in this process (the file is read if it changed).
    this.spareList = { version: fileVersion(st), entries };
  }

  async activate(id: string): Promise<void> {
    // O(1) whatever the size: the record and the tree must be there (a committed snapshot); their
    // content is checked by verify, not on every swap.
    validateSnapshotId(id);
    for (const p of [this.recordPath(id), join(this.snapshotsDir, id)]) {
      try {
        await stat(p);
      } catch {
        throw new StoreError('E_SNAPSHOT_UNKNOWN', `snapshot ${id}: no such snapshot in ${this.snapshotsDir}`, 'run `repo-agent list` to see the snapshots on disk');
      }
    }
    try {
      // Relative target: the tree can be moved or bind-mounted as a whole.
      await swapSymlink(`snapshots/${id}`, this.currentLink);
    } catch (err) {
      throw fsError(err, `switching ${this.currentLink} to snapshots/${id}`, 'the previous snapshot is still live');
    }
  }

  async remove(id: string): Promise<void> {
    validateSnapshotId(id);
    if ((await this.live()) === id) {
      throw new StoreError('E_SNAPSHOT_LIVE', `snapshot ${id} is live and cannot be removed`, 'activate another snapshot first');
    }
    // Out of snapshots/ in one rename, then the record, then the bytes.
    const trash = join(this.stagingDir, `.removed-${id}`);
    try {
      await mkdir(this.stagingDir, { recursive: true });
      await rename(join(this.snapshotsDir, id), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, `removing snapshot ${id}`, 'check the state directory');
    }
    await unlink(this.recordPath(id)).catch(() => {});
    this.records.delete(id);
    await rm(trash, { recursive: true, force: true });
  }

  async open(id: string, path: string): Promise<Readable> {
    validateSnapshotPath(path, `snapshot ${id}`);
    return createReadStream(join(this.snapshotsDir, validateSnapshotId(id), path));
  }

  async scan(id: string): Promise<ManifestEntry[]> {
    return (await scanTree(join(this.snapshotsDir, validateSnapshotId(id)))).entries;
  }

  lock(op: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<HeldLock> {
    return mkdir(this.root, { recursive: true }).then(() =>
      acquireLock(this.lockPath, { op, timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}), ...(this.logger ? { logger: this.logger } : {}) }),
    );
  }

  async recover(): Promise<void> {
    await this.init();
    const dirs = new Set(await readdir(this.snapshotsDir));
    const staged = await readdir(this.stagingDir);
    // A complete spare tree stays while its base snapshot does (it then holds no extra content).
    const spare = this.spareOf(staged);
    const keep = spare !== undefined && dirs.has(spare) ? new Set([`.spare.${spare}`, `.spare.${spare}.json`]) : new Set<string>();
    // Its list first, so that an interrupted removal never leaves a listed, partial tree.
    for (const name of [...staged].sort((a, b) => Number(b.endsWith('.json')) - Number(a.endsWith('.json')))) {
      if (keep.has(name)) continue;
      if (!SPARE_RE.test(name)) this.logger?.info(`removing ${join(this.stagingDir, name)}, left by an interrupted operation`);
      await rm(join(this.stagingDir, name), { recursive: true, force: true });
    }
    for (const name of await readdir(this.manifestsDir)) {
      const id = name.replace(/\.json$/, '');
      if (name.endsWith('.json') && dirs.has(id)) continue;
      // A record without its tree: the deploy stopped between the two, or a temp file of writeFileAtomic.
      await rm(join(this.manifestsDir, name), { force: true });
    }
    for (const name of await readdir(this.root)) {
      if (name.startsWith('.current.tmp-') || name.startsWith('lock.stale-')) await rm(join(this.root, name), { force: true });
    }
  }
}

/** Counts and hashes bytes as they pass; fails as soon as more than `limit` bytes arrive. */
class HashingCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly limit: number, private readonly what: string) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(new StoreError('E_SNAPSHOT_SIZE', `${this.what}: more than the ${this.limit} bytes the manifest gives`, 'the sender and the manifest disagree: redeploy'));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

const FSYNC_PARALLEL = 64;
/** Files up to this size are received into memory and written in one call. */
const SMALL_FILE = 1 << 20;

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const PLACE_PARALLEL = 16;

/** Every directory (relative) the files at `paths` sit in, each once. */
export function dirsOf(paths: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const p of paths) {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      const d = p.slice(0, i);
      // Its parents were added with it.
      if (set.has(d)) break;
      set.add(d);
    }
  }
  return [...set];
}

/** Directories grouped by depth, shallowest first: each group can be made in parallel. */
function byDepth(dirs: readonly string[]): string[][] {
  const levels: string[][] = [];
  for (const d of dirs) {
    let depth = 0;
    for (let i = d.indexOf('/'); i >= 0; i = d.indexOf('/', i + 1)) depth++;
    (levels[depth] ??= []).push(d);
  }
  return levels.filter((l) => l !== undefined);
}

/** Run `fn` over `items`, at most `limit` at once; the first failure is thrown after all settle. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

class DirStaged implements StagedSnapshot {
  /** Directories that exist here. */
  private readonly known = new Set<string>();
  /** Directories made or changed here: fsynced at commit (those of a spare tree already are). */
  private readonly dirty = new Set<string>();
  /** Files written (not linked) here: fsynced together at commit. */
  private readonly written: string[] = [];
  /** The check that the files kept from a spare tree are there, awaited at commit. */
  private keptCheck: Promise<void> = Promise.resolve();

  /** `base`: the files this directory already holds (a spare tree), or undefined for an empty one. */
  constructor(private readonly store: DirStore, readonly id: string, private readonly dir: string, private base?: ManifestEntry[]) {
    this.known.add(dir);
    this.dirty.add(dir);
  }

  private async parentOf(path: string): Promise<string> {
    const full = join(this.dir, path);
    const parent = dirname(full);
    if (!this.known.has(parent)) {
      await mkdir(parent, { recursive: true, mode: 0o755 });
      let d = parent;
      for (; d.length > this.dir.length && !this.known.has(d); d = dirname(d)) {
        this.known.add(d);
        this.dirty.add(d);
      }
      this.dirty.add(d);
    }
    this.dirty.add(parent);
    return full;
  }

  private async makeDirs(rel: readonly string[]): Promise<void> {
    // Parents first, non-recursive: one mkdir per directory, no EEXIST round trips.
    for (const level of byDepth(rel)) {
      await inParallel(level, PLACE_PARALLEL, async (d) => {
        const full = join(this.dir, d);
        await mkdir(full, { mode: 0o755 });
        this.known.add(full);
        this.dirty.add(full);
        this.dirty.add(dirname(full));
      });
    }
  }

  async prepare(files: readonly ManifestEntry[], replace: ReadonlySet<string>): Promise<Set<string>> {
    const want = dirsOf(files.map((f) => f.path));
    const kept = new Set<string>();
    const base = this.base;
    this.base = undefined;
    if (base) {
      try {
        const wanted = new Map(files.map((f) => [f.path, f]));
        const stale: string[] = [];
        for (const b of base) {
          const w = wanted.get(b.path);
          if (w && !replace.has(b.path) && w.sha256 === b.sha256 && w.size === b.size && w.mode === b.mode) kept.add(b.path);
          else stale.push(b.path);
        }
        // Unlink only: the spare's files are hard links of committed snapshots, never written to.
        await inParallel(stale, PLACE_PARALLEL, async (p) => {
          await unlink(join(this.dir, p));
          this.dirty.add(dirname(join(this.dir, p)));
        });
        const wantSet = new Set(want);
        const had = dirsOf(base.map((b) => b.path));
        for (const level of byDepth(had.filter((d) => !wantSet.has(d))).reverse()) {
          await inParallel(level, PLACE_PARALLEL, async (d) => {
            const full = join(this.dir, d);
            await rmdir(full);
            this.dirty.delete(full);
            this.dirty.add(dirname(full));
          });
        }
        const hadSet = new Set(had);
        for (const d of had) if (wantSet.has(d)) this.known.add(join(this.dir, d));
        await this.makeDirs(want.filter((d) => !hadSet.has(d)));
        // Kept files are the spare's hard links: check they are still there, with their size
        // (as place() checks the files it links), while the tar stream arrives.
        this.keptCheck = inParallel([...kept], PLACE_PARALLEL, async (p) => {
          const e = wanted.get(p)!;
          const st = await lstat(join(this.dir, p)).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') return undefined;
            throw err;
          });
          if (!st?.isFile() || st.size !== e.size || (st.mode & 0o777) !== e.mode) {
            throw new StoreError('E_STORE_CORRUPT', `snapshot ${this.id}: ${p} in the spare tree should hold ${e.size} bytes with mode ${e.mode.toString(8)} but is ${st ? `${st.size} bytes with mode ${(st.mode & 0o777).toString(8)}` : 'missing'}`, 'deploy again (the spare tree is dropped); run `repo-agent verify` on the snapshots');
          }
        });
        this.keptCheck.catch(() => {});
        return kept;
      } catch (err) {
        this.store.logger?.warn(`snapshot ${this.id}: the spare tree does not match its list; laying out every file`, { reason: (err as Error).message });
        await rm(this.dir, { recursive: true, force: true });
        await mkdir(this.dir);
        kept.clear();
        this.known.clear();
        this.dirty.clear();
        this.known.add(this.dir);
        this.dirty.add(this.dir);
      }
    }
    await this.makeDirs(want);
    return kept;
  }

  async write(entry: ManifestEntry, content: Readable): Promise<void> {
    const what = `snapshot ${this.id}: ${entry.path}`;
    const full = await this.parentOf(entry.path);
    if (entry.size <= SMALL_FILE) return this.writeSmall(entry, content, full, what);
    const counter = new HashingCounter(entry.size, what);
    try {
      const fh = await open(full, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, entry.mode);
      await fh.chmod(entry.mode).catch(async (err: unknown) => {
        await fh.close();
        throw err;
      });
      // The stream owns the handle from here and closes it; commit() fsyncs all written files at once.
      await pipeline(content, counter, fh.createWriteStream());
      this.written.push(full);
    } catch (err) {
      throw fsError(err, `writing ${what} in ${this.dir}`, `free space in ${this.store.root} or fix the sender; the live snapshot is untouched`);
    }
    const sha256 = counter.hash.digest('hex');
    if (counter.bytes !== entry.size || sha256 !== entry.sha256) {
      throw new StoreError(
        'E_SNAPSHOT_HASH',
        `${what}: received ${counter.bytes} bytes with SHA-256 ${sha256}, the manifest says ${entry.size} bytes with ${entry.sha256}`,
        'the file changed in transit or the manifest is wrong: the snapshot is refused, the live one is untouched',
      );
    }
  }

  /**
   * A small file (most metadata) is taken whole into memory, checked, then written in one call:
   * a third of the thread-pool round trips of a stream, and a wrong one never touches the disk.
   */
  private async writeSmall(entry: ManifestEntry, content: Readable, full: string, what: string): Promise<void> {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of content as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > entry.size) throw new StoreError('E_SNAPSHOT_SIZE', `${what}: more than the ${entry.size} bytes the manifest gives`, 'the sender and the manifest disagree: redeploy');
      hash.update(chunk);
      chunks.push(chunk);
    }
    const sha256 = hash.digest('hex');
    if (bytes !== entry.size || sha256 !== entry.sha256) {
      throw new StoreError(
        'E_SNAPSHOT_HASH',
        `${what}: received ${bytes} bytes with SHA-256 ${sha256}, the manifest says ${entry.size} bytes with ${entry.sha256}`,
        'the file changed in transit or the manifest is wrong: the snapshot is refused, the live one is untouched',
      );
    }
    try {
      const fh = await open(full, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, entry.mode);
      try {
        await fh.chmod(entry.mode);
        await fh.writeFile(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
      } finally {
        await fh.close();
      }
      // fsynced with the others at commit.
      this.written.push(full);
    } catch (err) {
      throw fsError(err, `writing ${what} in ${this.dir}`, `free space in ${this.store.root} or fix the sender; the live snapshot is untouched`);
    }
  }

  async place(entry: ManifestEntry, from: ContentRef): Promise<void> {
    const src = 'staged' in from ? join(this.dir, from.staged) : join(this.store.snapshotsDir, from.snapshot, from.path);
    const full = await this.parentOf(entry.path);
    const what = `snapshot ${this.id}: ${entry.path}`;
    try {
      const st = await lstat(src);
      if (!st.isFile() || st.size !== entry.size) {
        throw new StoreError('E_STORE_CORRUPT', `${what}: ${src} should hold ${entry.size} bytes with SHA-256 ${entry.sha256} but is ${st.isFile() ? `${st.size} bytes` : 'not a regular file'}`, 'run `repo-agent verify` on the snapshots and remove the damaged one');
      }
      if ((st.mode & 0o777) === entry.mode) {
        try {
          await link(src, full);
          return;
        } catch (err) {
          // EMLINK: too many links to one inode; EXDEV cannot happen within one store, but copy anyway.
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EMLINK' && code !== 'EXDEV') throw err;
        }
      }
      // Same content, other mode (hard links share it): a local copy, cloned where the fs can.
      await copyFile(src, full, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      await chmod(full, entry.mode);
      this.written.push(full);
    } catch (err) {
      throw fsError(err, `placing ${what} from ${src}`, `free space in ${this.store.root}; the live snapshot is untouched`);
    }
  }

  async readFile(path: string): Promise<Buffer> {
    return readFile(join(this.dir, validateSnapshotPath(path)));
  }

  private flushed: Promise<void> | undefined;

  flush(): Promise<void> {
    // Every written file and every directory made or changed durable before the rename publishes
    // them. Many fsyncs in flight at once share journal commits: one after the other, 10 000
    // files take ten times longer.
    this.flushed ??= (async () => {
      await this.keptCheck;
      await inParallel(this.written, FSYNC_PARALLEL, fsyncFile);
      await inParallel([...this.dirty], FSYNC_PARALLEL, fsyncDir);
    })();
    return this.flushed;
  }

  async commit(record: SnapshotRecord): Promise<void> {
    const final = join(this.store.snapshotsDir, this.id);
    try {
      await this.flush();
      await writeFileAtomic(join(this.store.manifestsDir, `${this.id}.json`), JSON.stringify({ format: RECORD_FORMAT, ...record }) + '\n');
    } catch (err) {
      throw fsError(err, `committing snapshot ${this.id}`, `free space in ${this.store.root}; the live snapshot is untouched`);
    }
    try {
      await rename(this.dir, final);
    } catch (err) {
      await unlink(join(this.store.manifestsDir, `${this.id}.json`)).catch(() => {});
      throw fsError(err, `committing snapshot ${this.id}`, 'the live snapshot is untouched');
    }
    await fsyncDir(this.store.snapshotsDir);
  }

  async abort(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
