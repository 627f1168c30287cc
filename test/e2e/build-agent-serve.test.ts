import { readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, spawnAgent } from '../helpers/agents';
import { TestOrchestrator } from '../helpers/orchestrator';
import { waitFor } from '../helpers/net';

describe('build-agent serve (registration + heartbeat) and doctor', () => {
  let orch: TestOrchestrator;
  beforeAll(async () => {
    orch = new TestOrchestrator();
    await orch.init({ heartbeat: '1s' });
    await orch.start();
  });
  afterAll(async () => {
    await orch.stop();
  });

  const registration = (release: string, target: string) => {
    try {
      return JSON.parse(readFileSync(join(orch.stateDir, 'registrations', release, `${target}.json`), 'utf8')) as { hostname: string; connected: boolean; lastSeen: string };
    } catch {
      return undefined;
    }
  };

  it('registers, keeps lastSeen fresh by heartbeat, reconnects after an orchestrator restart', async () => {
    const cred = await orch.credential('v3.0.0', 'arm64-rpm');
    const agent = spawnAgent('build-agent', ['serve', '--credential', cred]);
    let out = '';
    agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('registered v3.0.0 arm64-rpm'), 'build-agent serve to register');
      const first = await waitFor(() => registration('v3.0.0', 'arm64-rpm'), 'the registration record');
      expect(first.connected).toBe(true);
      await waitFor(() => registration('v3.0.0', 'arm64-rpm')!.lastSeen > first.lastSeen, 'a heartbeat to move lastSeen', 10_000);
      await orch.kill('SIGKILL');
      await orch.start();
      // The agent reconnects with backoff and registers again.
      await waitFor(() => orch.proc!.logs().some((l) => l.msg === 'build machine registered' && l.target === 'arm64-rpm'), 'the agent to register again after the restart', 20_000);
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('stops with a clear error when its credential is revoked', async () => {
    const cred = await orch.credential('v3.0.1', 'amd64-deb');
    const agent = spawnAgent('build-agent', ['serve', '--credential', cred]);
    let out = '';
    let err = '';
    agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => agent.once('exit', (c) => r(c)));
    await waitFor(() => out.includes('registered'), 'registration');
    const id = JSON.parse(readFileSync(cred, 'utf8')).id as string;
    expect((await runAgent('orchestrator-agent', ['credentials', 'revoke', '--state-dir', orch.stateDir, '--release', 'v3.0.1'])).code).toBe(0);
    expect(await exited).toBe(1);
    expect(err).toMatch(new RegExp(`credential ${id} was revoked`));
  });

  it('doctor says ok when all is well and names what is wrong otherwise', async () => {
    const cred = await orch.credential('v3.0.2', 'amd64-deb');
    const ok = await runAgent('build-agent', ['doctor', '--credential', cred]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+credential: .*release v3.0.2 target amd64-deb/);
    expect(ok.stdout).toMatch(/ok\s+reachability/);
    expect(ok.stdout).toMatch(/ok\s+authentication: authenticated as build-/);

    chmodSync(cred, 0o644);
    const loose = await runAgent('build-agent', ['doctor', '--credential', cred]);
    expect(loose.code).toBe(1);
    expect(loose.stdout).toMatch(/FAIL\s+credential: .*readable by other users.*chmod 600/);
    chmodSync(cred, 0o600);

    const c = JSON.parse(readFileSync(cred, 'utf8'));
    const wrong = cred.replace('.json', '-wrong.json');
    writeFileSync(wrong, JSON.stringify({ ...c, secret: '00'.repeat(32) }), { mode: 0o600 });
    const bad = await runAgent('build-agent', ['doctor', '--credential', wrong]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL\s+authentication: .*refused credential/);

    const dead = cred.replace('.json', '-dead.json');
    writeFileSync(dead, JSON.stringify({ ...c, url: 'wss://127.0.0.1:1' }), { mode: 0o600 });
    const unreachable = await runAgent('build-agent', ['doctor', '--credential', dead]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout).toMatch(/FAIL\s+reachability: 127.0.0.1:1: ECONNREFUSED; is orchestrator-agent serve running/);
    rmSync(wrong);
    rmSync(dead);
  });
});
