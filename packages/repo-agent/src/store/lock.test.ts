import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock } from './lock';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function lockPath(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pkgfleet-lock-'));
  dirs.push(d);
  return join(d, 'lock');
}

/** A pid that was alive a moment ago and is gone now. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('store lock', () => {
  it('takes over a lock whose process is gone, and one cut short by a crash', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: await deadPid(), start: '1', token: 'dead', op: 'deploy x', since: '2026-01-01T00:00:00Z' }));
    const held = await acquireLock(path, { op: 'gc', timeoutMs: 1000 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ pid: process.pid, op: 'gc' });
    await held.release();
    // Cut short by a crash between create and write: taken over once it is a few seconds old.
    await writeFile(path, '{"pid": 12');
    await utimes(path, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
    const again = await acquireLock(path, { op: 'gc', timeoutMs: 1000 });
    await again.release();
  });

  it('takes over a lock whose pid was reused by another process (start time differs)', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: process.pid, start: 'not-this-process', token: 'old', op: 'deploy', since: '' }));
    const held = await acquireLock(path, { op: 'gc', timeoutMs: 1000 });
    await held.release();
  });

  it('waits for a live holder in another process and says who holds it', async () => {
    const path = await lockPath();
    const sleeper = spawn('sleep', ['30']);
    try {
      const start = (await readFile(`/proc/${sleeper.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19];
      await writeFile(path, JSON.stringify({ pid: sleeper.pid, start, token: 't', op: 'deploy 2026', since: 'then' }));
      await expect(acquireLock(path, { op: 'gc', timeoutMs: 300 })).rejects.toThrow(new RegExp(`held after 0s by pid ${sleeper.pid} \\(deploy 2026`));
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
      const held = await acquireLock(path, { op: 'gc', timeoutMs: 2000 });
      await held.release();
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('serializes callers in one process and releases only its own lock', async () => {
    const path = await lockPath();
    const order: string[] = [];
    const a = await acquireLock(path, { op: 'a', timeoutMs: 1000 });
    const b = acquireLock(path, { op: 'b', timeoutMs: 5000 }).then((l) => {
      order.push('b');
      return l;
    });
    await new Promise((r) => setTimeout(r, 100));
    order.push('a done');
    await a.release();
    const lb = await b;
    expect(order).toEqual(['a done', 'b']);
    // A second release of an old holder does not remove the current one's lock.
    await a.release().catch(() => {});
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ op: 'b' });
    await lb.release();
  });
});
