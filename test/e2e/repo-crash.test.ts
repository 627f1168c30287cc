import { afterAll, expect, it } from 'vitest';
import { readlink, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnAgent } from '../helpers/agents';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';

let fx: RepoAgentFixture | undefined;
afterAll(async () => fx?.cleanup());

/** Run `repo-agent import` and SIGKILL it after `delayMs` (if it is still running). */
async function importKilledAfter(f: RepoAgentFixture, dir: string, delayMs: number): Promise<{ killed: boolean; code: number | null }> {
  const child = spawnAgent('repo-agent', ['import', '--from', dir, '--state-dir', f.stateDir, '--log-format', 'json'], { env: { PKGFLEET_CONFIG: undefined }, stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  return { killed: signal === 'SIGKILL', code };
}

it('SIGKILL at 20 random points of a deploy leaves current on a complete, verified snapshot, and the next deploy succeeds', async () => {
  fx = await repoAgentFixture();
  const f = fx;
  await f.ok(['init', '--trust-key', f.keyFile]);
  // Trees that share no content, big enough that a deploy takes a while (writes, fsyncs, hashes).
  const trees = await Promise.all([0, 1, 2].map((v) => f.tree({ packages: 60, packageSize: 96 * 1024, variant: `v${v}` })));
  await f.ok(['import', '--from', trees[0]!]);

  // How long a process takes to start, and a whole import of fresh content: kill in between.
  let t = Date.now();
  await f.ok(['list']);
  const startup = Date.now() - t;
  t = Date.now();
  await f.ok(['import', '--from', trees[1]!]);
  const whole = Date.now() - t;
  await f.ok(['gc', '--keep', '1']);

  let killed = 0;
  let liveTree = 1;
  for (let i = 0; i < 20; i++) {
    const liveBefore = await readlink(join(f.stateDir, 'current'));
    // A tree whose content the store lacks: not the live one (gc keeps only the live snapshot).
    const pick = (liveTree + 1 + (i % 2)) % trees.length;
    const delay = startup + Math.random() * Math.max(1, 0.8 * (whole - startup));
    const r = await importKilledAfter(f, trees[pick]!, delay);
    if (r.killed) killed++;
    else expect(r.code).toBe(0);

    // current names a snapshot that is complete and verifies.
    const live = await readlink(join(f.stateDir, 'current'));
    expect(live).toMatch(/^snapshots\/[A-Za-z0-9._-]+$/);
    if (live !== liveBefore) liveTree = pick;
    expect(await f.ok(['verify'])).toMatch(/: ok, \d+ files/);
    // The lock of the killed process is taken over; leftovers are cleared; only the live one is kept.
    await f.ok(['gc', '--keep', '1']);
    expect(await readdir(join(f.stateDir, 'staging'))).toEqual([]);
    expect(await readdir(join(f.stateDir, 'snapshots'))).toEqual([live.slice('snapshots/'.length)]);
  }
  // Most runs were really interrupted (the rest finished before their kill time).
  expect(killed).toBeGreaterThanOrEqual(10);

  // The next deploy succeeds and verifies.
  const last = JSON.parse(await f.ok(['import', '--from', trees[(liveTree + 1) % trees.length]!, '--json'])) as { id: string };
  expect(await readlink(join(f.stateDir, 'current'))).toBe(`snapshots/${last.id}`);
  expect(await f.ok(['verify'])).toContain(`snapshot ${last.id}: ok`);
}, 300_000);
