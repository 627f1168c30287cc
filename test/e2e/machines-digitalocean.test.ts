import { memoryLogger } from '@pkgfleet/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DigitalOceanProvider, type DigitalOceanOptions } from '../../packages/orchestrator-agent/src/providers/digitalocean';
import { reapMachines } from '../../packages/orchestrator-agent/src/machines/reap';
import { DoEmulator } from '../helpers/do-emulator';

const TARGETS = ['amd64-deb', 'arm64-deb', 'amd64-rpm'];
const HOUR = 3_600_000;

let emu: DoEmulator;
let logger: ReturnType<typeof memoryLogger>;
let slept: number[];

beforeEach(async () => {
  emu = new DoEmulator({ activeAfterMs: 200 });
  await emu.start();
  logger = memoryLogger();
  slept = [];
});
afterEach(async () => {
  await emu.stop();
});

function provider(over: Partial<DigitalOceanOptions> = {}): DigitalOceanProvider {
  return new DigitalOceanProvider({
    token: emu.token,
    baseUrl: emu.url,
    logger,
    droplet: { region: 'fra1', size: 's-2vcpu-4gb', image: 'debian-12-x64', sshKeys: ['1234', 'aa:bb'], vpcUuid: 'vpc-123', monitoring: true },
    userData: (release, target, b) => `#cloud-config\n# ${release} ${target}\n# ${b.credential}\n`,
    pollIntervalMs: 50,
    baseDelayMs: 10,
    // Record the waits the client asks for; wait only briefly so the suite stays quick.
    sleep: (ms) => {
      slept.push(ms);
      return new Promise((r) => setTimeout(r, Math.min(ms, 20)));
    },
    ...over,
  });
}

function bootstrapCounter() {
  const issued: string[] = [];
  return { issued, bootstrap: async (target: string) => (issued.push(target), { credential: `cred-for-${target}` }) };
}

function ours(release: string) {
  return emu.list().filter((d) => d.tags.includes(`pkgfleet-release:${release.replaceAll('.', ':')}`));
}

describe('digitalocean provider against the API emulator', () => {
  it('creates one droplet per target with name, tags, VPC and user-data, through 429 bursts and 5xx', async () => {
    const p = provider();
    emu.inject({ kind: '429', retryAfterSec: 1 }, 3, ['GET']);
    emu.inject({ kind: '5xx', status: 503 }, 2, ['GET']);
    emu.inject({ kind: '429', retryAfterSec: 2 }, 1, ['POST']);
    // One POST is processed but answered 500: the retry must find it, not make a second droplet.
    emu.inject({ kind: 'created-then-500' }, 1, ['POST']);
    const b = bootstrapCounter();
    const res = await p.create({ release: 'v1.2.3', targets: TARGETS, bootstrap: b.bootstrap });
    expect(res.reused).toEqual([]);
    expect(res.machines.map((m) => m.target)).toEqual(TARGETS);
    expect(b.issued.sort()).toEqual([...TARGETS].sort());

    const droplets = ours('v1.2.3');
    expect(droplets).toHaveLength(3);
    for (const t of TARGETS) {
      const d = droplets.filter((x) => x.tags.includes(`pkgfleet-target:${t}`));
      expect(d).toHaveLength(1);
      expect(d[0]!.name).toBe(`pkgfleet-v1-2-3-${t}`);
      expect(d[0]!.tags).toEqual(['pkgfleet', 'pkgfleet-release:v1:2:3', `pkgfleet-target:${t}`]);
      expect(d[0]!.vpc_uuid).toBe('vpc-123');
      expect(d[0]!.monitoring).toBe(true);
      expect(d[0]!.ssh_keys).toEqual([1234, 'aa:bb']);
      expect(d[0]!.user_data).toContain(`cred-for-${t}`);
    }
    // Retry-After was honoured (seconds → ms), not replaced by a short backoff.
    expect(slept).toContain(1000);
    expect(slept).toContain(2000);

    const ready = await p.waitReady('v1.2.3', TARGETS, Date.now() + 10_000);
    expect(ready.every((m) => m.status === 'active' && m.privateAddress?.startsWith('10.116.'))).toBe(true);
  });

  it('is idempotent: a second create reuses every machine and mints no credential', async () => {
    const p = provider();
    await p.create({ release: 'v2.0.0', targets: TARGETS, bootstrap: bootstrapCounter().bootstrap });
    const posts = emu.requests.filter((r) => r.method === 'POST').length;
    const b = bootstrapCounter();
    const again = await p.create({ release: 'v2.0.0', targets: TARGETS, bootstrap: b.bootstrap });
    expect(again.reused.sort()).toEqual([...TARGETS].sort());
    expect(b.issued).toEqual([]);
    expect(emu.requests.filter((r) => r.method === 'POST').length).toBe(posts);
    expect(ours('v2.0.0')).toHaveLength(3);
  });

  it('waits for ratelimit-reset when a 429 has no Retry-After', async () => {
    const p = provider();
    emu.inject({ kind: '429', resetInSec: 3 }, 1, ['GET']);
    await p.list();
    expect(slept, String(slept)).toSatisfy((s: number[]) => s.some((ms) => ms > 2000 && ms <= 4000));
  });

  it('follows pagination and lists only pkgfleet machines', async () => {
    const p = provider({ pageSize: 2 });
    await p.create({ release: 'v1.0.0', targets: TARGETS, bootstrap: bootstrapCounter().bootstrap });
    await p.create({ release: 'nightly-20260101', targets: ['amd64-deb', 'amd64-rpm'], bootstrap: bootstrapCounter().bootstrap });
    emu.seed({ name: 'web-1', tags: ['production'], createdAt: new Date(Date.now() - 10 * HOUR) });
    const all = await p.list();
    expect(all).toHaveLength(5);
    expect(emu.requests.some((r) => r.method === 'GET' && r.query.page === '3')).toBe(true);
    const one = await p.list({ release: 'nightly-20260101' });
    expect(one.map((m) => m.target).sort()).toEqual(['amd64-deb', 'amd64-rpm']);
  });

  it('delete by release leaves 0 droplets of it, others untouched, and is idempotent', async () => {
    emu.deleteAfterMs = 150; // droplets linger a moment, as on the real API
    const p = provider();
    await p.create({ release: 'v3.1.0', targets: TARGETS, bootstrap: bootstrapCounter().bootstrap });
    await p.create({ release: 'v3.2.0', targets: ['amd64-deb'], bootstrap: bootstrapCounter().bootstrap });
    emu.inject({ kind: '5xx', status: 502 }, 1, ['DELETE']);
    expect(await p.deleteRelease('v3.1.0')).toBe(3);
    expect(ours('v3.1.0')).toHaveLength(0);
    expect(ours('v3.2.0')).toHaveLength(1);
    expect(await p.deleteRelease('v3.1.0')).toBe(0);
    expect(await p.deleteMachine('999999999')).toBe(false);
  });

  it('reaper deletes an orphan past its age, leaves younger ones and droplets without the pkgfleet tag', async () => {
    const now = Date.now();
    const orphan = emu.seed({ name: 'pkgfleet-v0-9-0-amd64-deb', tags: ['pkgfleet', 'pkgfleet-release:v0:9:0', 'pkgfleet-target:amd64-deb'], createdAt: new Date(now - 7 * HOUR) });
    const young = emu.seed({ name: 'pkgfleet-v1-0-0-amd64-deb', tags: ['pkgfleet', 'pkgfleet-release:v1:0:0', 'pkgfleet-target:amd64-deb'], createdAt: new Date(now - 1 * HOUR) });
    const foreign = emu.seed({ name: 'db-1', tags: ['database'], createdAt: new Date(now - 30 * 24 * HOUR) });
    // Named like ours and old, but without the fleet tag: not ours to delete.
    const lookalike = emu.seed({ name: 'pkgfleet-old', tags: ['pkgfleet-release:v0:1:0'], createdAt: new Date(now - 30 * 24 * HOUR) });
    const reaped = await reapMachines(provider(), { olderThanMs: 6 * HOUR, now: () => now, logger });
    expect(reaped.map((m) => m.id)).toEqual([String(orphan.id)]);
    const left = emu.list().map((d) => d.id).sort();
    expect(left).toEqual([young.id, foreign.id, lookalike.id].sort());
  });

  it('fails with a clear auth error on a bad token and never writes the token to the log', async () => {
    const p = provider({ token: 'dop_v1_wrong_token_value' });
    await expect(p.list()).rejects.toMatchObject({ code: 'E_DO_AUTH', message: expect.stringContaining('401') as unknown });
    const good = provider();
    emu.inject({ kind: '429', retryAfterSec: 1 }, 2);
    emu.inject({ kind: '5xx' }, 2);
    await good.create({ release: 'v9.9.9', targets: ['amd64-deb'], bootstrap: bootstrapCounter().bootstrap });
    await good.deleteRelease('v9.9.9');
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const line of logger.lines) {
      expect(line).not.toContain(emu.token);
      expect(line).not.toContain('dop_v1_wrong_token_value');
    }
    expect(emu.requests.filter((r) => !r.authorized)).toHaveLength(1);
  });

  it('names the late targets when droplets stay new past the deadline', async () => {
    emu.activeAfterMs = 60_000;
    const p = provider();
    await p.create({ release: 'v4.0.0', targets: ['amd64-deb'], bootstrap: bootstrapCounter().bootstrap });
    await expect(p.waitReady('v4.0.0', ['amd64-deb', 'arm64-deb'], Date.now() + 200)).rejects.toThrow(/amd64-deb \(droplet \d+ still new\), arm64-deb \(no droplet\)/);
  });
});
