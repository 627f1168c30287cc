import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { PkgfleetError, TransferError, UsageError } from '../errors';
import type { Logger } from '../log/logger';
import { createProgress, formatBytes, type Progress } from '../log/progress';
import { BufferPool } from '../memory/pool';
import { fileNameProblem } from '../protocol/names';
import { RemoteError, type ClientConnection } from '../transport/client';

/**
 * The sending side of a push: offer what we have, send only what the receiver lacks, resume a
 * half-sent file at the receiver's offset, retry dropped connections with backoff.
 */
export interface LocalFile {
  path: string;
  name: string;
  size: number;
  /**
   * Known once the file was hashed: before the offer when the orchestrator speaks only protocol 1,
   * else while it streams (or when the orchestrator says a file of that name landed already).
   */
  sha256?: string | undefined;
  mtimeMs: number;
}

export interface PushRequest {
  release: string;
  target: string;
  files: LocalFile[];
  replace: boolean;
}

export interface PushResult {
  sent: Array<{ name: string; bytes: number; resumedFrom: number }>;
  alreadyThere: string[];
  bytesSent: number;
  attempts: number;
}

/** Bytes of `fh` from 0 to `end` into `hash`, reading the next block while one is hashed. */
async function hashRange(fh: FileHandle, end: number, hash: Hash): Promise<void> {
  const size = Math.min(4 << 20, Math.max(1, end));
  let [current, spare] = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  let position = 0;
  const readNext = (buf: Buffer) => {
    const want = Math.min(size, end - position);
    const p = want > 0 ? fh.read(buf, 0, want, position) : Promise.resolve({ bytesRead: 0 });
    position += want;
    return p;
  };
  let reading = readNext(current);
  for (;;) {
    const { bytesRead } = await reading;
    if (bytesRead === 0) break;
    const filled = current;
    [current, spare] = [spare, current];
    reading = readNext(current);
    hash.update(bytesRead === size ? filled : filled.subarray(0, bytesRead));
  }
}

function fileChanged(f: LocalFile): TransferError {
  return new TransferError('E_FILE_CHANGED', `${f.path} changed while it was being pushed`, 'wait for the build to finish writing it, then push again');
}

/** Throw unless `st` still has the size and mtime `f` was described with. */
function checkUnchanged(f: LocalFile, st: { size: number; mtimeMs: number }): void {
  if (st.size !== f.size || st.mtimeMs !== f.mtimeMs) throw fileChanged(f);
}

/**
 * A small file read whole with synchronous calls: five syscalls on this thread instead of five
 * round trips through libuv's thread pool (a push is a CLI with nothing else to serve meanwhile).
 * Checks that it has the size and mtime it was described with, before and after reading.
 */
function readSmall(f: LocalFile, into?: Buffer): Buffer {
  const buf = into && into.length >= f.size ? into.subarray(0, f.size) : Buffer.allocUnsafe(f.size);
  const fd = openSync(f.path, 'r');
  try {
    checkUnchanged(f, fstatSync(fd));
    for (let n = 0; n < f.size; ) {
      const r = readSync(fd, buf, n, f.size - n, n);
      if (r === 0) throw fileChanged(f);
      n += r;
    }
    checkUnchanged(f, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** Files up to this size are read whole, synchronously (readSmall). */
const SMALL_FILE = 1024 * 1024;

/**
 * Size and mtime (to notice a file that changes while it is pushed), and the SHA-256 when
 * `withHash`. Two reused 4 MiB buffers: the next read runs while the current one is hashed.
 */
async function describeFile(path: string, withHash: boolean): Promise<{ size: number; sha256: string | undefined; mtimeMs: number }> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!withHash) return { size: st.size, sha256: undefined, mtimeMs: st.mtimeMs };
    const hash = createHash('sha256');
    await hashRange(fh, st.size, hash);
    return { size: st.size, sha256: hash.digest('hex'), mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * Stat the files to push (hashes come later, see LocalFile.sha256); names are their base names
 * and must be unique and safe.
 */
export async function describeLocalFiles(paths: string[]): Promise<LocalFile[]> {
  const seen = new Map<string, string>();
  const out: LocalFile[] = [];
  for (const path of paths) {
    const name = basename(path);
    const problem = fileNameProblem(name);
    if (problem) throw new UsageError(`${path}: file name ${JSON.stringify(name)} ${problem}`, 'rename the file');
    const other = seen.get(name);
    if (other) throw new UsageError(`${path} and ${other} have the same name ${name}`, 'push files with distinct names');
    seen.set(name, path);
    let st;
    try {
      // synchronous: a thousand awaited stats cost ~40 ms of thread-pool round trips, these ~2 ms
      st = statSync(path);
    } catch (err) {
      throw new UsageError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    if (!st.isFile()) throw new UsageError(`${path} is not a regular file`);
    out.push({ path, name, size: st.size, sha256: undefined, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** Codes worth another attempt: the network or the peer went away, or was busy. */
const RETRYABLE = new Set(['E_DISCONNECTED', 'E_UNREACHABLE', 'E_CONNECT_TIMEOUT', 'E_PEER_DEAD', 'E_TIMEOUT', 'E_CONNECTION', 'E_BUSY', 'E_HASH_MISMATCH', 'E_BAD_OFFSET', 'E_CLOSED']);

export function isRetryable(err: unknown): boolean {
  return err instanceof PkgfleetError && RETRYABLE.has(err.code);
}

export interface PushOptions {
  logger: Logger;
  tty?: NodeJS.WriteStream | undefined;
  maxAttempts?: number;
  /** First backoff delay; doubles each attempt up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  replyTimeoutMs?: number;
  signal?: AbortSignal;
  /** Bandwidth limit in bytes per second (like rsync --bwlimit); 0 or undefined = none. */
  bwLimit?: number;
}

/** What earlier attempts of the same push did: files they sent (maybe unconfirmed) and bytes. */
export interface PushProgressState {
  begun: Map<string, number>;
  confirmed: Set<string>;
  /** Files confirmed landed, across attempts. */
  sent: PushResult['sent'];
}

export const newPushState = (): PushProgressState => ({ begun: new Map(), confirmed: new Set(), sent: [] });

/** The first protocol in which the sender hashes while streaming and sends the digest at file.end. */
const STREAMING_HASH_PROTOCOL = 2;

/** One attempt over one connection. */
export async function pushOnce(conn: ClientConnection, req: PushRequest, opts: PushOptions, progress?: Progress, state: PushProgressState = newPushState()): Promise<PushResult> {
  const log = opts.logger;
  const replyTimeout = opts.replyTimeoutMs ?? 120_000;
  const streaming = conn.welcome.protocol >= STREAMING_HASH_PROTOCOL;
  if (!streaming) {
    // Protocol 1: the offer carries every file's hash.
    for (const f of req.files) if (f.sha256 === undefined) Object.assign(f, await describeFile(f.path, true));
  }
  conn.send({ type: 'push.offer', release: req.release, target: req.target, replace: req.replace, files: req.files.map(({ name, size, sha256 }) => (streaming ? { name, size } : { name, size, sha256 })) });
  const status = await conn.next(['push.status'], replyTimeout, 'the answer to the push offer');
  const byName = new Map(req.files.map((f) => [f.name, f]));
  // A name that landed already (protocol 2): compare with the local file's hash.
  let scratch: Buffer | undefined;
  for (const s of status.files) {
    if (s.state !== 'landed') continue;
    const f = byName.get(s.name);
    if (!f) continue;
    if (f.sha256 === undefined && f.size <= SMALL_FILE) f.sha256 = createHash('sha256').update(readSmall(f, (scratch ??= Buffer.allocUnsafe(SMALL_FILE)))).digest('hex');
    else if (f.sha256 === undefined) {
      const now = await describeFile(f.path, true);
      checkUnchanged(f, now);
      f.sha256 = now.sha256;
    }
    if (s.size === f.size && s.sha256 === f.sha256) Object.assign(s, { state: 'complete', offset: f.size });
    else if (!req.replace) Object.assign(s, { state: 'conflict', offset: 0 });
    else Object.assign(s, { state: s.offset > 0 ? 'partial' : 'missing' });
  }
  const conflicts = status.files.filter((s) => s.state === 'conflict').map((s) => s.name);
  if (conflicts.length) {
    throw new TransferError('E_CONFLICT', `release ${req.release} target ${req.target} already holds different content under ${conflicts.join(', ')}`, 'pass --replace to overwrite them, or bump the package version');
  }
  const complete = status.files.filter((s) => s.state === 'complete').map((s) => s.name);
  // A file an earlier attempt sent but whose confirmation was lost with the connection counts as sent.
  const sentEarlier = complete.filter((n) => state.begun.has(n) && !state.confirmed.has(n));
  const alreadyThere = complete.filter((n) => !state.begun.has(n));
  const todo = status.files.filter((s) => s.state === 'missing' || s.state === 'partial');
  const total = todo.reduce((n, s) => n + (byName.get(s.name)!.size - s.offset), 0);
  const bar = progress ?? createProgress({ total, label: `push ${req.release}/${req.target}`, logger: log, tty: opts.tty });
  const chunkSize = conn.welcome.limits.chunkSize;
  // read buffers of one chunk each, as many as can be in flight below the socket's high-water
  // mark in small frames
  const ring = new BufferPool(chunkSize, 64);
  let done = 0;
  const started = Date.now();
  const pending = new Map<string, { bytes: number; resumedFrom: number }>();
  const sent = state.sent;
  for (const name of sentEarlier) {
    sent.push({ name, bytes: state.begun.get(name)!, resumedFrom: 0 });
    state.confirmed.add(name);
  }
  const failures: Error[] = [];

  const collect = async (until: number) => {
    while (pending.size > until) {
      const msg = await conn.next(['file.done', 'error'], replyTimeout, `confirmation of ${[...pending.keys()][0]}`);
      if (msg.type === 'error') {
        if (msg.name) pending.delete(msg.name);
        failures.push(new RemoteError(msg, conn.url));
        continue;
      }
      const p = pending.get(msg.name);
      if (!p) continue;
      pending.delete(msg.name);
      state.confirmed.add(msg.name);
      sent.push({ name: msg.name, ...p });
      log.info('file landed', { file: msg.name, bytes: p.bytes, resumedFrom: p.resumedFrom });
    }
  };

  /** Pace to the bandwidth limit, if any. */
  const pace = async () => {
    if (!opts.bwLimit) return;
    const ahead = (done / opts.bwLimit) * 1000 - (Date.now() - started);
    if (ahead > 0) await sleep(ahead, opts.signal);
  };
  const begin = (f: LocalFile, offset: number) => {
    if (offset > 0) log.info('resuming', { file: f.name, offset, size: f.size });
    // Protocol 2 names the digest only at file.end (the receiver keys the partial by name then).
    conn.send(streaming ? { type: 'file.begin', name: f.name, size: f.size, offset } : { type: 'file.begin', name: f.name, size: f.size, sha256: f.sha256!, offset });
    state.begun.set(f.name, state.begun.get(f.name) ?? 0);
  };

  /**
   * A file of at most one chunk: read whole with synchronous calls (five syscalls on this
   * thread instead of five round trips through libuv's thread pool; a push is a CLI with nothing
   * else to serve meanwhile), hashed, then sent as one frame.
   */
  const sendSmall = async (f: LocalFile, offset: number): Promise<{ bytes: number; digest: string }> => {
    const whole = ring.take();
    const buf = readSmall(f, whole);
    f.sha256 ??= createHash('sha256').update(buf).digest('hex');
    begin(f, offset);
    if (offset < f.size) await conn.sendBinary(buf.subarray(offset), () => ring.give(whole));
    else ring.give(whole);
    done += f.size - offset;
    bar.update(done, f.name);
    await pace();
    return { bytes: f.size - offset, digest: f.sha256 };
  };

  /** A larger file: streamed chunk by chunk from `offset`, hashed as it is read (protocol 2). */
  const sendLarge = async (f: LocalFile, offset: number): Promise<{ bytes: number; digest: string }> => {
    const fh = await open(f.path, 'r');
    let bytes = 0;
    try {
      checkUnchanged(f, await fh.stat());
      // The bytes before a resume offset are read and hashed, not sent.
      const hash = f.sha256 === undefined ? createHash('sha256') : undefined;
      if (hash && offset > 0) await hashRange(fh, offset, hash);
      begin(f, offset);
      for (let position = offset; position < f.size; ) {
        const buf = ring.take();
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, f.size - position), position);
        if (bytesRead === 0) throw fileChanged(f);
        const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        hash?.update(chunk);
        await conn.sendBinary(chunk, () => ring.give(buf));
        position += bytesRead;
        bytes += bytesRead;
        done += bytesRead;
        bar.update(done, f.name);
        await pace();
      }
      // The digest covers what was read; a file that changed meanwhile is not vouched for.
      checkUnchanged(f, await fh.stat());
      if (hash) f.sha256 = hash.digest('hex');
      return { bytes, digest: f.sha256! };
    } finally {
      await fh.close();
    }
  };

  for (const s of todo) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const f = byName.get(s.name)!;
    const { bytes, digest } = f.size <= Math.min(chunkSize, SMALL_FILE) ? await sendSmall(f, s.offset) : await sendLarge(f, s.offset);
    conn.send(streaming ? { type: 'file.end', name: f.name, sha256: digest } : { type: 'file.end', name: f.name });
    state.begun.set(f.name, (state.begun.get(f.name) ?? 0) + bytes);
    pending.set(f.name, { bytes, resumedFrom: s.offset });
    // Pipeline small files, but do not run far ahead of the receiver's confirmations (the
    // orchestrator lands up to 128 files at once: build-session.ts)
    await collect(256);
  }
  await collect(0);
  bar.finish();
  if (failures.length) {
    const first = failures[0]!;
    if (failures.length === 1) throw first;
    throw new TransferError((first as PkgfleetError).code ?? 'E_PUSH_FAILED', `${failures.length} files failed: ${failures.map((e) => e.message).join('; ')}`, (first as PkgfleetError).hint);
  }
  return { sent, alreadyThere, bytesSent: done, attempts: 1 };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

/** Push with reconnects: each attempt re-offers, so the receiver says where to resume. */
export async function pushWithRetry(connect: () => Promise<ClientConnection>, req: PushRequest, opts: PushOptions): Promise<PushResult> {
  const maxAttempts = opts.maxAttempts ?? 8;
  const log = opts.logger;
  let delay = opts.backoffMs ?? 1000;
  let bytesSent = 0;
  const state = newPushState();
  for (let attempt = 1; ; attempt++) {
    let conn: ClientConnection | undefined;
    try {
      conn = await connect();
      const r = await pushOnce(conn, req, opts, undefined, state);
      conn.close('push complete');
      bytesSent += r.bytesSent;
      return { sent: r.sent, alreadyThere: r.alreadyThere, bytesSent, attempts: attempt };
    } catch (err) {
      conn?.close('push failed');
      if (conn) bytesSent += conn.bytesSent;
      if (!isRetryable(err) || attempt >= maxAttempts || opts.signal?.aborted) {
        if (isRetryable(err) && attempt >= maxAttempts) {
          const e = err as PkgfleetError;
          throw new TransferError(e.code, `${e.message} (gave up after ${attempt} attempts)`, e.hint, { cause: err });
        }
        throw err;
      }
      const wait = Math.min(delay, opts.maxBackoffMs ?? 30_000) * (0.8 + Math.random() * 0.4);
      log.warn(`push attempt ${attempt} failed; retrying in ${(wait / 1000).toFixed(1)} s`, { reason: (err as Error).message });
      await sleep(wait, opts.signal);
      delay *= 2;
      // A file that changed on disk between attempts is described anew.
      for (const f of req.files) {
        const st = await stat(f.path).catch(() => undefined);
        if (st && (st.size !== f.size || st.mtimeMs !== f.mtimeMs)) Object.assign(f, await describeFile(f.path, false));
      }
    }
  }
}

export function summarizePush(req: PushRequest, r: PushResult): string {
  return `pushed ${r.sent.length} file(s) (${formatBytes(r.bytesSent)} sent), ${r.alreadyThere.length} already there, to release ${req.release} target ${req.target}`;
}
