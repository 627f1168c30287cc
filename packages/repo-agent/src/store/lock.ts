import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PkgfleetError, TimeoutError, type Logger } from '@pkgfleet/shared';

/**
 * The store's write lock: deploys, activation, rollback and gc take it, so two deploys are
 * serialized and gc never removes a snapshot that a deploy is linking from. A lock file created
 * with O_EXCL holds the owner's pid, its start time and a token; a lock whose owner is gone (crash,
 * SIGKILL, reboot, pid reused by another process) is taken over. Within one process a queue
 * serializes callers, since they share a pid.
 */
export interface LockInfo {
  pid: number;
  /** Start time of the owner process (field 22 of /proc/PID/stat), to tell a reused pid apart. */
  start: string | null;
  token: string;
  op: string;
  since: string;
}

export interface HeldLock {
  readonly info: LockInfo;
  release(): Promise<void>;
}

export interface LockOptions {
  op: string;
  /** How long to wait for another holder before giving up. */
  timeoutMs: number;
  signal?: AbortSignal;
  logger?: Logger;
}

const queues = new Map<string, Promise<void>>();

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(info: LockInfo): boolean {
  if (!Number.isInteger(info.pid) || info.pid <= 0) return false;
  if (info.start !== null) {
    const start = processStart(info.pid);
    if (start !== null) return start === info.start;
  }
  try {
    process.kill(info.pid, 0);
    return info.pid !== process.pid || info.start === processStart(process.pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? info : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A file we cannot parse was cut short by a crash between create and write.
    return { pid: -1, start: null, token: '', op: 'unknown (unreadable lock file)', since: '' };
  }
}

const PARTIAL_GRACE_MS = 2000;

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}

async function tryCreate(path: string, info: LockInfo): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(JSON.stringify(info) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * Take over a lock whose owner is gone: rename it aside and check that what we renamed is still
 * the dead owner's (another process may have taken it over meanwhile; then put it back).
 */
async function breakStale(path: string, stale: LockInfo, logger?: Logger): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const got = await readInfo(aside);
  if (got && got.token !== stale.token) {
    await link(aside, path).catch(() => {});
    await unlink(aside).catch(() => {});
    return;
  }
  await unlink(aside).catch(() => {});
  logger?.warn(`took over the lock ${path} left by pid ${stale.pid} (${stale.op}, since ${stale.since || 'unknown'}), which is gone`);
}

async function acquireFile(path: string, opts: LockOptions): Promise<HeldLock> {
  const info: LockInfo = {
    pid: process.pid,
    start: processStart(process.pid),
    token: randomBytes(8).toString('hex'),
    op: opts.op,
    since: new Date().toISOString(),
  };
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 20;
  let logged = false;
  while (true) {
    if (await tryCreate(path, info)) break;
    const holder = await readInfo(path);
    // An unreadable lock file is either being written this instant or was cut short by a crash.
    if (holder && holder.pid === -1 && (await ageMs(path)) < PARTIAL_GRACE_MS) {
      await sleep(delay, undefined, { signal: opts.signal });
      continue;
    }
    if (holder && !ownerAlive(holder)) {
      await breakStale(path, holder, opts.logger);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new TimeoutError(
        'E_LOCK_TIMEOUT',
        `${path}: still held after ${Math.round(opts.timeoutMs / 1000)}s by pid ${holder?.pid ?? '?'} (${holder?.op ?? 'unknown'}, since ${holder?.since ?? '?'}); ${opts.op} not started`,
        'wait for that operation to finish and retry (a lock whose process is gone is taken over by itself)',
      );
    }
    if (!logged && holder) {
      opts.logger?.info(`waiting for the lock ${path}: held by pid ${holder.pid} (${holder.op})`);
      logged = true;
    }
    await sleep(delay, undefined, { signal: opts.signal });
    delay = Math.min(delay * 2, 250);
  }
  return {
    info,
    async release() {
      const now = await readInfo(path);
      if (now?.token === info.token) await unlink(path).catch(() => {});
    },
  };
}

/** Wait for the callers ahead in this process, within the same timeout as for another process. */
async function waitInQueue(prev: Promise<void>, path: string, opts: LockOptions): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError('E_LOCK_TIMEOUT', `${path}: still held after ${Math.round(opts.timeoutMs / 1000)}s by another operation of this process; ${opts.op} not started`, 'wait for that operation to finish and retry')),
      opts.timeoutMs,
    );
  });
  try {
    await Promise.race([prev, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Take the lock at `path` (waiting up to opts.timeoutMs); release it in a finally block. */
export async function acquireLock(path: string, opts: LockOptions): Promise<HeldLock> {
  const prev = queues.get(path) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const chain = prev.then(() => mine);
  queues.set(path, chain);
  try {
    await waitInQueue(prev, path, opts);
    const held = await acquireFile(path, opts);
    return {
      info: held.info,
      async release() {
        try {
          await held.release();
        } finally {
          done();
          if (queues.get(path) === chain) queues.delete(path);
        }
      },
    };
  } catch (err) {
    done();
    if (queues.get(path) === chain) queues.delete(path);
    if (err instanceof PkgfleetError) throw err;
    throw new PkgfleetError('E_LOCK', `${path}: cannot take the lock (${(err as Error).message})`, 'check that the state directory is writable', { cause: err });
  }
}
