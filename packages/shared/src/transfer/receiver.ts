import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { TransferError } from '../errors';
import { fsyncDir, writeFileAtomic } from '../fs/atomic';
import type { FileOffer, FileState } from '../protocol/messages';
import { isValidRelease, isValidTarget } from '../protocol/names';
import type { CurrentFile } from '../protocol/session';
import { BufferPool } from '../memory/pool';
import { MemoryRelief } from '../memory/relief';

/**
 * The receiver is where frames pile up (TLS records, WebSocket payloads): every chunk received is
 * a new Buffer. FileWriter copies each chunk into a pooled buffer for the disk write, so the
 * received one dies young and a minor GC every 4 MiB frees it. Forced full GCs are not needed
 * then, and cost more than they saved: a 1 GiB push with a full GC every 64 MiB set off ~100
 * full collections (orchestrator CPU 4.4–5.6 s), against 1 with the pool (3.3–3.8 s); peak RSS
 * 119–123 MiB either way.
 */
const relief = new MemoryRelief(4 * 1024 * 1024);
/**
 * Write buffers: of the server's chunk size (1 MiB; a writer of a large file holds at most ~3, see
 * MAX_UNWRITTEN_BYTES), and of 64 KiB for small files, dozens of which may be landing at once.
 */
const writeBuffers = [new BufferPool(64 * 1024, 64), new BufferPool(1024 * 1024, 4)];
const poolFor = (length: number): BufferPool | undefined => writeBuffers.find((p) => length <= p.size);
const ACCEPTED = Promise.resolve();

/**
 * Where pushed files land: <root>/<release>/<target>/<name>, with manifest.json beside them.
 * A file appears under its final name only after its SHA-256 checked out (temp name, fsync,
 * rename). Unfinished files wait in .partial/<sha256> so that a later push resumes them.
 */
export interface IncomingEntry {
  name: string;
  size: number;
  sha256: string;
  receivedAt: string;
  pushedBy: string;
}

export interface TargetManifest {
  release: string;
  target: string;
  files: IncomingEntry[];
}

export interface Landed {
  entry: IncomingEntry;
  bytesReceived: number;
  resumedFrom: number;
}

function diskError(err: unknown, what: string, dir: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new TransferError('E_DISK_FULL', `orchestrator disk full while receiving ${what} into ${dir}`, 'free space on the orchestrator (or grow its volume) and push again; nothing partial was kept', { cause: err });
  }
  return new TransferError('E_RECEIVE_IO', `could not store ${what} in ${dir}: ${(err as Error).message}`, 'check the orchestrator\'s state directory', { cause: err });
}

/**
 * Where the unfinished bytes of an offered file wait: named by the file's hash when the offer
 * carried it (protocol 1), else by its name (protocol 2; a partial left by other content under the
 * same name fails the final hash check and is removed, so the next attempt starts over).
 */
function partialPath(dir: string, f: { name: string; sha256?: string | undefined }): string {
  return join(dir, '.partial', f.sha256 ?? `${f.name}.part`);
}

/** The order of manifest.json (localeCompare's, without building a collator per comparison). */
const byName = new Intl.Collator().compare;

/**
 * manifest.json's text kept beside its entries (sorted by name): a group commit inserts the new
 * entries and joins the text of each entry, as JSON.stringify(manifest, null, 2) writes it,
 * instead of sorting and serializing every entry again (a push of 1000 files commits ~100 times).
 */
export class ManifestText {
  constructor(
    readonly manifest: TargetManifest,
    private readonly texts: string[] = manifest.files.map(entryText),
  ) {}

  /** A copy with `entries` added or replaced (a replaced file keeps its place). */
  with(entries: Iterable<IncomingEntry>): ManifestText {
    const next = new ManifestText({ ...this.manifest, files: [...this.manifest.files] }, [...this.texts]);
    next.put(entries);
    return next;
  }

  private put(entries: Iterable<IncomingEntry>): void {
    const { files } = this.manifest;
    for (const e of entries) {
      let lo = 0;
      let hi = files.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (byName(files[mid]!.name, e.name) < 0) lo = mid + 1;
        else hi = mid;
      }
      const replace = lo < files.length && files[lo]!.name === e.name ? 1 : 0;
      files.splice(lo, replace, e);
      this.texts.splice(lo, replace, entryText(e));
    }
  }

  toString(): string {
    const { release, target } = this.manifest;
    const head = `{\n  "release": ${JSON.stringify(release)},\n  "target": ${JSON.stringify(target)},\n  "files": `;
    return `${head}${this.texts.length ? `[\n${this.texts.join(',\n')}\n  ]` : '[]'}\n}\n`;
  }
}

function entryText(e: IncomingEntry): string {
  return JSON.stringify(e, null, 2).replace(/^/gm, '    ');
}

export class IncomingStore {
  private locks = new Map<string, Promise<unknown>>();
  private busy = new Set<string>();
  private madeDirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  dirFor(release: string, target: string): string {
    if (!isValidRelease(release) || !isValidTarget(target)) throw new TransferError('E_BAD_NAME', `invalid release or target: ${release}/${target}`);
    return join(this.root, release, target);
  }

  /** Serialize manifest updates of one target directory. */
  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(key, next.catch(() => {}));
    return next;
  }

  /** Manifests as this process last read or wrote them (it is their only writer). */
  private manifests = new Map<string, TargetManifest>();
  /** Their text, for the next group commit (ManifestText). */
  private manifestTexts = new Map<string, ManifestText>();

  async readManifest(release: string, target: string): Promise<TargetManifest> {
    const dir = this.dirFor(release, target);
    const cached = this.manifests.get(dir);
    if (cached) return cached;
    const path = join(dir, 'manifest.json');
    try {
      const m = JSON.parse(await readFile(path, 'utf8')) as TargetManifest;
      this.manifests.set(dir, m);
      return m;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { release, target, files: [] };
      throw new TransferError('E_MANIFEST', `cannot read ${path}: ${(err as Error).message}`, 'restore or remove the file', { cause: err });
    }
  }

  /** What the orchestrator already holds of each offered file. */
  async status(release: string, target: string, files: FileOffer[], replace: boolean): Promise<FileState[]> {
    const dir = this.dirFor(release, target);
    const manifest = await this.readManifest(release, target);
    const landed = new Map(manifest.files.map((f) => [f.name, f]));
    // Stats of up to 256 files at a time (a push of 1000 files waits for four rounds, not for
    // 1000 stats in a row).
    const one = async (f: FileOffer): Promise<FileState> => {
      const have = landed.get(f.name);
      const onDisk = have ? await stat(join(dir, f.name)).catch(() => undefined) : undefined;
      const held = async () => {
        const partial = await stat(partialPath(dir, f)).catch(() => undefined);
        return partial && partial.size > 0 && partial.size <= f.size ? partial.size : 0;
      };
      if (f.sha256 === undefined) {
        // No hash offered (protocol 2): say what landed; the sender compares and decides (and
        // land() still refuses different content without replace). A landed file missing from
        // the disk is sent again.
        if (have && onDisk && onDisk.size === have.size) return { name: f.name, state: 'landed', offset: await held(), size: have.size, sha256: have.sha256 };
        const offset = await held();
        return { name: f.name, state: offset > 0 ? 'partial' : 'missing', offset };
      }
      if (have && have.sha256 === f.sha256 && have.size === f.size) {
        if (onDisk && onDisk.size === f.size) return { name: f.name, state: 'complete', offset: f.size };
      } else if (have && !replace) {
        return { name: f.name, state: 'conflict', offset: 0 };
      }
      const offset = await held();
      return { name: f.name, state: offset > 0 ? 'partial' : 'missing', offset };
    };
    const out: FileState[] = [];
    for (let i = 0; i < files.length; i += 256) out.push(...(await Promise.all(files.slice(i, i + 256).map(one))));
    return out;
  }

  /** Start (or resume at `cur.offset`) receiving one file. */
  async begin(release: string, target: string, cur: CurrentFile, replace: boolean): Promise<FileWriter> {
    const dir = this.dirFor(release, target);
    const partialDir = join(dir, '.partial');
    const partial = partialPath(dir, cur);
    if (this.busy.has(partial)) {
      throw new TransferError('E_BUSY', `${cur.name} is being received from another connection right now`, 'wait for the other push to finish, then push again');
    }
    this.busy.add(partial);
    try {
      if (!this.madeDirs.has(partialDir)) {
        await mkdir(partialDir, { recursive: true });
        this.madeDirs.add(partialDir);
      }
      const hash = createHash('sha256');
      if (cur.offset === 0) {
        // From byte 0 nothing held matters (opening truncates): open in the background, so the
        // socket goes on with this file's bytes (the first write waits for the open, not the socket).
        return new FileWriter(this, open(partial, 'w', 0o644), hash, { dir, partial, release, target, cur, replace });
      }
      const st = await stat(partial).catch(() => undefined);
      const have = st?.size ?? 0;
      if (cur.offset > have) {
        throw new TransferError('E_BAD_OFFSET', `${cur.name}: resume at byte ${cur.offset} but only ${have} bytes are held`, 'push again: the orchestrator will say where to resume');
      }
      if (st && have > cur.offset) await truncate(partial, cur.offset);
      for await (const chunk of createReadStream(partial, { start: 0, end: cur.offset - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      const fh = await open(partial, 'r+', 0o644);
      return new FileWriter(this, Promise.resolve(fh), hash, { dir, partial, release, target, cur, replace });
    } catch (err) {
      this.busy.delete(partial);
      if (err instanceof TransferError) throw err;
      throw diskError(err, cur.name, dir);
    }
  }

  /** Called by FileWriter when the last byte is in: verify, land, record. */
  async land(w: { dir: string; partial: string; release: string; target: string; cur: CurrentFile; replace: boolean }, digest: string, expected: string, pushedBy: string): Promise<Landed> {
    const { dir, partial, release, target, cur } = w;
    if (digest !== expected) {
      await rm(partial, { force: true });
      throw new TransferError('E_HASH_MISMATCH', `${cur.name}: received bytes hash to ${digest}, not the announced ${expected}; nothing was stored`, 'the file changed while it was pushed, or the network corrupted it: push again');
    }
    const entry: IncomingEntry = { name: cur.name, size: cur.size, sha256: expected, receivedAt: this.now().toISOString(), pushedBy };
    await this.withLock(dir, async () => {
      const manifest = await this.readManifest(release, target);
      const prev = this.unrecorded.get(dir)?.get(cur.name) ?? manifest.files.find((f) => f.name === cur.name);
      if (prev && prev.sha256 !== expected && !w.replace) {
        await rm(partial, { force: true });
        throw new TransferError('E_CONFLICT', `${cur.name} already landed with different content (sha256 ${prev.sha256})`, 'pass --replace to overwrite it');
      }
      try {
        // The file (fsynced by the writer) takes its final name; the directory is fsynced by the
        // manifest write that records it, before the sender hears that it landed.
        await rename(partial, join(dir, cur.name));
      } catch (err) {
        throw diskError(err, cur.name, dir);
      }
      (this.unrecorded.get(dir) ?? this.unrecorded.set(dir, new Map()).get(dir)!).set(cur.name, entry);
    });
    await this.record(dir, release, target);
    return { entry, bytesReceived: cur.received, resumedFrom: cur.offset };
  }

  /** Landed files not yet in manifest.json, per target directory. */
  private unrecorded = new Map<string, Map<string, IncomingEntry>>();
  /** A manifest write in progress per directory, and whether another one is needed after it. */
  private flushing = new Map<string, { run: Promise<void>; next: Promise<void> | undefined }>();

  /**
   * Group commit: files that land while a manifest write is in progress are recorded together by
   * the next write (one rewrite and one directory fsync for many files, not one per file).
   */
  private record(dir: string, release: string, target: string): Promise<void> {
    const state = this.flushing.get(dir);
    if (state) {
      state.next ??= state.run.catch(() => {}).then(() => this.record(dir, release, target));
      return state.next;
    }
    const run = this.withLock(dir, async () => {
      const batch = this.unrecorded.get(dir);
      this.unrecorded.delete(dir);
      if (!batch?.size) return;
      const manifest = await this.readManifest(release, target);
      const written = this.manifestTexts.get(dir);
      // the manifest in memory changes only once the new one is written
      const next = (written?.manifest === manifest ? written : new ManifestText(manifest)).with(batch.values());
      try {
        await writeFileAtomic(join(dir, 'manifest.json'), next.toString());
        this.manifests.set(dir, next.manifest);
        this.manifestTexts.set(dir, next);
      } catch (err) {
        throw diskError(err, 'manifest.json', dir);
      }
    }).finally(() => this.flushing.delete(dir));
    this.flushing.set(dir, { run, next: undefined });
    return run;
  }

  release(partial: string): void {
    this.busy.delete(partial);
  }

  /** Every release/target that has landed files (partials are never listed). */
  async list(release?: string): Promise<TargetManifest[]> {
    const releases = release ? [release] : await readdir(this.root).catch(() => [] as string[]);
    const out: TargetManifest[] = [];
    for (const r of releases.sort()) {
      if (!isValidRelease(r)) continue;
      const targets = await readdir(join(this.root, r)).catch(() => [] as string[]);
      for (const t of targets.sort()) {
        if (!isValidTarget(t)) continue;
        const m = await this.readManifest(r, t);
        if (m.files.length) out.push(m);
      }
    }
    return out;
  }
}

/**
 * Bytes accepted by FileWriter.write that may wait for the disk. The socket keeps being read and
 * the data hashed while the previous chunk is written, instead of hashing only after each write.
 */
const MAX_UNWRITTEN_BYTES = 2 * 1024 * 1024;

/**
 * Writes one incoming file to its partial name while hashing it. Writes run one at a time, in
 * order (a killed orchestrator leaves a partial without holes, so its size is the resume offset),
 * but a chunk is hashed and accepted while the one before it is still being written.
 */
export class FileWriter {
  private position: number;
  private fh: FileHandle | undefined;
  /** The chain of writes, starting with the open; never rejects (the first error is `failure`). */
  private writing: Promise<void>;
  private unwritten = 0;
  private failure: unknown;

  constructor(
    private readonly store: IncomingStore,
    opening: Promise<FileHandle>,
    private readonly hash: Hash,
    private readonly w: { dir: string; partial: string; release: string; target: string; cur: CurrentFile; replace: boolean },
  ) {
    this.position = w.cur.offset;
    this.writing = opening.then(
      (fh) => {
        this.fh = fh;
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
  }

  /** Bytes accepted but not yet written. */
  get unwrittenBytes(): number {
    return this.unwritten;
  }

  private async writeAt(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh!.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  /**
   * Hash `data` and queue it for the disk. Resolves at once while little waits for the disk,
   * else once the queue is written; rejects if a write failed. Not an async function: a
   * suspended one would keep `data` alive until the disk took it.
   */
  write(data: Buffer): Promise<void> {
    if (this.failure === undefined) {
      this.accept(data);
      if (this.unwritten <= MAX_UNWRITTEN_BYTES) return ACCEPTED;
    }
    return this.settle();
  }

  private accept(data: Buffer): void {
    this.hash.update(data);
    relief.note(data.length);
    const position = this.position;
    this.position += data.length;
    this.unwritten += data.length;
    // The copy waits for the disk; `data` itself is garbage as soon as this returns. No closure
    // here may refer to `data`: V8 would keep it in the context the callbacks below hold until
    // the write is done (a 1 GiB push then set off ~75 full GCs instead of 1).
    const pool = poolFor(data.length);
    const own = pool?.take();
    const bytes = own ? own.subarray(0, data.copy(own)) : data;
    // After a failed write the rest are skipped: no later chunk lands beyond a gap.
    this.writing = this.writing.then(() => (this.failure === undefined ? this.writeAt(bytes, position) : undefined)).then(
      () => {
        this.unwritten -= bytes.length;
        if (own) pool!.give(own);
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
  }

  /** Wait for the queued writes; a failed one removes the part and rejects. */
  private async settle(): Promise<void> {
    await this.writing;
    if (this.failure !== undefined) {
      await this.abort(true);
      throw diskError(this.failure, this.w.cur.name, this.w.dir);
    }
  }

  /** The last byte is in: fsync, then land it if the bytes hash to `sha256`. */
  async finish(pushedBy: string, sha256: string): Promise<Landed> {
    try {
      await this.writing;
      if (this.failure !== undefined) throw this.failure;
      await this.fh!.sync();
      await this.fh!.close();
    } catch (err) {
      await this.abort(true);
      throw diskError(err, this.w.cur.name, this.w.dir);
    }
    try {
      return await this.store.land(this.w, this.hash.digest('hex'), sha256, pushedBy);
    } finally {
      this.store.release(this.w.partial);
    }
  }

  /** Stop writing; keep the partial for a later resume unless `remove`. */
  async abort(remove: boolean): Promise<void> {
    await this.writing;
    // A partial whose write failed may miss bytes: it cannot be resumed.
    if (this.failure !== undefined) remove = true;
    if (!remove) await this.fh?.sync().catch(() => {});
    await this.fh?.close().catch(() => {});
    if (remove) await rm(this.w.partial, { force: true }).catch(() => {});
    else await fsyncDir(this.w.dir).catch(() => {});
    this.store.release(this.w.partial);
  }
}
