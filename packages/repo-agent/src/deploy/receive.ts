import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import {
  FormatError,
  graceCarryOver,
  lackingContent,
  PkgfleetError,
  snapshotPathProblem,
  validateManifest,
  type GraceEntry,
  type Logger,
  type Manifest,
  type ManifestEntry,
  type ManifestLimits,
} from '@pkgfleet/shared';
import { inParallel, newSnapshotId, validateSnapshotId } from '../store/dir-store';
import type { HeldLock } from '../store/lock';
import type { ContentRef, SnapshotRecord, Store } from '../store/store';
import { verifySnapshotSignatures, VerifiedSignatures, type TrustedKey } from './signatures';

/**
 * Receiving a snapshot: manifest in, the list of content lacking out, then a tar stream of exactly
 * that content in, a verified snapshot (made live) out. The network deploy handler and the local
 * import both go through beginDeploy, so a tree from the orchestrator and one from a directory
 * are checked the same way.
 */

/** Byte and file counts of one deploy, updated while it runs (progress, tests, benchmarks). */
export interface DeployCounter {
  /** Raw bytes of the tar stream read so far. */
  tarBytes: number;
  /** Files whose content arrived in the tar stream, and their bytes. */
  filesReceived: number;
  bytesReceived: number;
  /** Files placed from content the store already held (hard links), and their bytes. */
  filesLinked: number;
  bytesLinked: number;
  /** Hash-named files carried from the previous live snapshot for the grace period. */
  filesCarried: number;
}

export function newCounter(): DeployCounter {
  return { tarBytes: 0, filesReceived: 0, bytesReceived: 0, filesLinked: 0, bytesLinked: 0, filesCarried: 0 };
}

export interface DeployOptions {
  /** The public key whose signatures the snapshot must carry (from the config, never the snapshot). */
  trustedKey: TrustedKey;
  /** Snapshot id; default: time-sortable, e.g. 20260101-120000-1a2b3c. */
  id?: string;
  /** Make the snapshot live once committed (default true). */
  activate?: boolean;
  /** How long hash-named files of the previous live snapshot stay present (ms; 0 = not at all). */
  graceMs: number;
  /** How long to wait for another operation holding the store's lock. */
  lockTimeoutMs: number;
  limits?: ManifestLimits;
  now?: () => Date;
  logger?: Logger;
  signal?: AbortSignal;
  /** Pass one to watch progress; otherwise a fresh one is made. */
  counter?: DeployCounter;
  /**
   * A long-running receiver (the daemon): stage over the spare tree the store prepared, and after
   * the answer, still under the lock, prepare one from the new snapshot for the next deploy; keep
   * the signatures verified (by key and content hashes) for the next deploys.
   */
  spare?: boolean;
}

export interface DeployResult {
  id: string;
  activated: boolean;
  /** The snapshot that was live before (undefined on the first deploy). */
  previous: string | undefined;
  files: number;
  bytes: number;
  signatures: number;
  counter: DeployCounter;
}

export interface PendingDeploy {
  readonly id: string;
  /** One entry per distinct content the store lacks: what the sender must stream, by path. */
  readonly lacking: readonly ManifestEntry[];
  readonly counter: DeployCounter;
  /** Read the tar stream of the lacking content, assemble, verify, commit, activate. Releases the lock. */
  receive(tarStream: Readable): Promise<DeployResult>;
  /** Give up without receiving (e.g. the peer went away). Releases the lock. */
  abort(): Promise<void>;
}

export class DeployError extends PkgfleetError {}

const PLACE_PARALLEL = 16;
/** Spare trees being prepared after an answer (each holds the store's lock until it is done). */
const background = new Set<Promise<void>>();

/** Settles once no spare tree is being prepared: a stopping daemon waits for it, so it leaves its lock released. */
export async function deploysSettled(): Promise<void> {
  while (background.size) await Promise.all([...background]);
}

/** Signatures this process verified, for the daemon's next deploys (see VerifiedSignatures). */
const verifiedSignatures = new VerifiedSignatures();

function refuse(what: string, name: string, problem: string): DeployError {
  return new DeployError('E_DEPLOY_TAR', `${what}: tar entry ${JSON.stringify(name)} refused: ${problem}`, 'the sender must stream regular files listed in the manifest only; nothing was activated');
}

/** sha256 → where the store holds that content, over every retained snapshot. */
function indexOf(records: readonly SnapshotRecord[]): Map<string, ContentRef> {
  const index = new Map<string, ContentRef>();
  for (const r of records) {
    for (const e of [...r.entries, ...r.grace]) if (!index.has(e.sha256)) index.set(e.sha256, { snapshot: r.id, path: e.path });
  }
  return index;
}

/** Milliseconds per phase, for the log: `phase(name)` closes the phase that ran since the last call. */
function phaseTimer(): { ms: Record<string, number>; phase: (name: string) => void } {
  const ms: Record<string, number> = {};
  let since = performance.now();
  return {
    ms,
    phase: (name) => {
      const t = performance.now();
      ms[name] = Math.round((t - since) * 10) / 10;
      since = t;
    },
  };
}

/**
 * Take the store's lock, check the manifest and work out what content is lacking. The lock is
 * held until receive() or abort() finishes, so gc cannot remove what the deploy links from.
 */
export async function beginDeploy(store: Store, manifestInput: Manifest, opts: DeployOptions): Promise<PendingDeploy> {
  const { ms, phase } = phaseTimer();
  const manifest = validateManifest(manifestInput, 'deploy manifest', opts.limits);
  phase('validate');
  const now = opts.now ?? (() => new Date());
  const id = validateSnapshotId(opts.id ?? newSnapshotId(now(), randomBytes(3).toString('hex')));
  const counter = opts.counter ?? newCounter();
  const lock: HeldLock = await store.lock(`deploy ${id}`, { timeoutMs: opts.lockTimeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
  try {
    phase('lock');
    await store.recover();
    const records = await store.list();
    phase('list');
    const index = indexOf(records);
    const lacking = lackingContent(manifest, index);
    const previous = await store.live();
    phase('index');
    opts.logger?.debug(`deploy ${id}: ${lacking.length} of ${manifest.entries.length} files lacking`, { ms });
    const liveRecord = previous === undefined ? undefined : records.find((r) => r.id === previous);
    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      await lock.release();
    };
    return {
      id,
      lacking,
      counter,
      async receive(tarStream) {
        if (finished) throw new DeployError('E_DEPLOY_STATE', `deploy ${id} already finished`);
        let done: { result: DeployResult; record: SnapshotRecord };
        try {
          done = await assemble(store, { id, manifest, index, lacking, liveRecord, previous, counter, opts, now: now() }, tarStream);
        } catch (err) {
          await finish();
          throw err;
        }
        if (opts.spare && store.prepareSpare) {
          // After the answer, still holding the lock: the next deploy (which waits for the lock)
          // starts from a copy of this snapshot. A failure only costs the next deploy that head start.
          const t = performance.now();
          const task: Promise<void> = store.prepareSpare(done.record)
            .then(() => opts.logger?.debug(`spare tree of snapshot ${id} ready`, { ms: Math.round(performance.now() - t) }))
            .catch((err: unknown) => opts.logger?.warn(`could not prepare the spare tree of snapshot ${id}; the next deploy lays out every file`, { reason: (err as Error).message }))
            .finally(async () => {
              await finish();
              background.delete(task);
            });
          background.add(task);
        } else {
          await finish();
        }
        return done.result;
      },
      async abort() {
        await finish();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

interface AssembleState {
  id: string;
  manifest: Manifest;
  index: Map<string, ContentRef>;
  lacking: readonly ManifestEntry[];
  liveRecord: SnapshotRecord | undefined;
  previous: string | undefined;
  counter: DeployCounter;
  opts: DeployOptions;
  now: Date;
}

async function assemble(store: Store, s: AssembleState, tarStream: Readable): Promise<{ result: DeployResult; record: SnapshotRecord }> {
  const { id, manifest, counter, opts } = s;
  const what = `snapshot ${id}`;
  // Where the time goes (logged with the result): begin, receive, link, grace, signatures, flush, commit, swap.
  const { ms, phase } = phaseTimer();
  const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  // Hash-named files of the live snapshot stay reachable for the grace period (those the store holds).
  const grace: GraceEntry[] = (s.liveRecord ? graceCarryOver(s.liveRecord, manifest, s.now.getTime(), opts.graceMs) : []).filter((g) => s.index.has(g.sha256));
  const staged = await store.begin(id, { useSpare: opts.spare === true });
  try {
    // Directories first; over a spare tree, the files it already holds as wanted stay.
    const kept = await staged.prepare([...manifest.entries, ...grace], new Set(s.lacking.map((e) => e.path)));
    phase('begin');
    // 1. The content that was sent, checked entry by entry while it streams.
    const stagedBySha = new Map<string, string>();
    const done = new Set<string>();
    const extract = tar.extract();
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        counter.tarBytes += chunk.length;
        cb(null, chunk);
      },
    });
    const feeding = pipeline(tarStream, count, extract as unknown as NodeJS.WritableStream);
    feeding.catch(() => {});
    try {
      for await (const entry of extract) {
        opts.signal?.throwIfAborted();
        const h = entry.header;
        if (h.type !== 'file') throw refuse(what, h.name, `type ${h.type ?? 'unknown'} (only regular files are accepted: no links, devices or directories)`);
        const problem = snapshotPathProblem(h.name);
        if (problem) throw refuse(what, h.name, problem);
        const e = byPath.get(h.name);
        if (!e) throw refuse(what, h.name, 'not in the manifest');
        if (done.has(e.path)) throw refuse(what, h.name, 'sent twice');
        if (kept.has(e.path)) throw refuse(what, h.name, 'already held by the repo server (send only the lacking list)');
        if (h.size !== e.size) throw refuse(what, h.name, `${h.size} bytes, the manifest says ${e.size}`);
        // tar-stream entries are streamx streams: read them through a Node Readable.
        await staged.write(e, Readable.from(entry as AsyncIterable<Buffer>));
        done.add(e.path);
        stagedBySha.set(e.sha256, e.path);
        counter.filesReceived++;
        counter.bytesReceived += e.size;
      }
      await feeding;
      phase('receive');
    } catch (err) {
      extract.destroy();
      tarStream.destroy();
      throw err;
    }

    // 2. Everything else from content already held: staged just now, or in a retained snapshot.
    const toPlace: Array<[ManifestEntry, ContentRef]> = [];
    for (const e of manifest.entries) {
      if (done.has(e.path)) continue;
      if (kept.has(e.path)) {
        counter.filesLinked++;
        counter.bytesLinked += e.size;
        continue;
      }
      const stagedPath = stagedBySha.get(e.sha256);
      const ref: ContentRef | undefined = stagedPath !== undefined ? { staged: stagedPath } : s.index.get(e.sha256);
      if (!ref) {
        throw new DeployError('E_DEPLOY_MISSING', `${what}: ${e.path} (SHA-256 ${e.sha256}) was neither sent nor held by the store`, 'the sender must stream every file of the lacking list; nothing was activated');
      }
      toPlace.push([e, ref]);
    }
    // Thousands of hard links: several in flight at once (each is a stat and a link).
    await inParallel(toPlace, PLACE_PARALLEL, async ([e, ref]) => {
      opts.signal?.throwIfAborted();
      await staged.place(e, ref);
      done.add(e.path);
      counter.filesLinked++;
      counter.bytesLinked += e.size;
    });
    phase('link');

    // 3. The grace period's files.
    for (const g of grace) {
      if (!kept.has(g.path)) await staged.place(g, s.index.get(g.sha256)!);
      counter.filesCarried++;
    }

    phase('grace');
    // 4. Signatures against the trusted key, and the signed indexes against the files (CPU),
    // while the staged files and directories are fsynced (I/O): both before the commit.
    const flushing = staged.flush();
    flushing.catch(() => {});
    let report: Awaited<ReturnType<typeof verifySnapshotSignatures>>;
    try {
      report = await verifySnapshotSignatures(manifest.entries, (p) => staged.readFile(p), opts.trustedKey, what, opts.spare ? verifiedSignatures : undefined);
    } catch (err) {
      // Let the fsyncs finish before the staged tree is removed.
      await flushing.catch(() => {});
      throw err;
    }
    phase('signatures');
    await flushing;
    phase('flush');

    // 5. Durable, then live.
    const record: SnapshotRecord = { id, createdAt: s.now.toISOString(), entries: manifest.entries, grace };
    await staged.commit(record);
    phase('commit');
    const activate = opts.activate !== false;
    if (activate) await store.activate(id);
    phase('swap');
    opts.logger?.info(`snapshot ${id} ${activate ? 'is live' : 'committed'}`, {
      files: manifest.entries.length,
      received: counter.filesReceived,
      linked: counter.filesLinked,
      carried: counter.filesCarried,
      bytesReceived: counter.bytesReceived,
      ms,
    });
    const result: DeployResult = {
      id,
      activated: activate,
      previous: s.previous,
      files: manifest.entries.length,
      bytes: manifest.entries.reduce((n, e) => n + e.size, 0),
      signatures: report.signatures,
      counter,
    };
    return { result, record };
  } catch (err) {
    await staged.abort().catch(() => {});
    if (err instanceof PkgfleetError) throw err;
    if ((err as Error).name === 'AbortError') throw new DeployError('E_DEPLOY_ABORTED', `${what}: deploy interrupted`, 'nothing was activated; deploy again', { cause: err });
    throw new FormatError('E_DEPLOY_TAR', `${what}: the tar stream is unreadable (${(err as Error).message})`, 'nothing was activated; deploy again', { cause: err });
  }
}

/** Convenience for one-shot callers: begin, then receive `tarStream` (which must hold the lacking content). */
export async function receiveSnapshot(store: Store, manifest: Manifest, tarStream: Readable, opts: DeployOptions): Promise<DeployResult> {
  const pending = await beginDeploy(store, manifest, opts);
  return pending.receive(tarStream);
}
