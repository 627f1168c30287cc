import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { agentCommand, runAgent, spawnAgent } from '../helpers/agents';
import { buildDeb } from '../helpers/debs';
import { DoEmulator } from '../helpers/do-emulator';
import { freePort, waitFor } from '../helpers/net';
import { writeGeneratedRpms } from '../helpers/rpms';

/**
 * `orchestrator-agent release` against a stateful DigitalOcean API emulator. The test plays the
 * droplets: when one turns up with user-data, it takes the credential cloud-init would write,
 * starts `build-agent serve` with it (the machine boots and registers) and, as the build job,
 * pushes packages with it. Whatever happens, no droplet may be left.
 */
describe('release with the digitalocean provider (API emulator)', () => {
  let work: string;
  let emu: DoEmulator;
  let orchState: string;
  let orchServe: ChildProcess;
  let repoServe: ChildProcess;
  const booted = new Map<number, ChildProcess[]>();
  let behaviour: (target: string) => 'push' | 'no-push' | 'half-push' = () => 'push';

  const fleet = () => emu.list().filter((d) => d.tags.includes('pkgfleet'));

  /** Boot every new droplet: register with its credential, then run its "build job". */
  async function bootLoop(stop: { done: boolean }) {
    while (!stop.done) {
      for (const d of emu.list()) {
        if (booted.has(d.id) || d.status !== 'active' || !d.user_data) continue;
        booted.set(d.id, []);
        const cfg = YAML.parse(d.user_data.replace(/^#cloud-config\n/, '')) as { write_files: Array<{ path: string; content: string }> };
        const credContent = cfg.write_files.find((f) => f.path === '/etc/pkgfleet/build-agent.credential')!.content;
        const machineDir = join(work, 'droplets', String(d.id));
        mkdirSync(machineDir, { recursive: true });
        const cred = join(machineDir, 'credential');
        writeFileSync(cred, credContent, { mode: 0o600 });
        const c = JSON.parse(credContent) as { release: string; target: string };
        const serve = spawnAgent('build-agent', ['serve', '--credential', cred, '--state-dir', machineDir]);
        booted.get(d.id)!.push(serve);
        const what = behaviour(c.target);
        if (what === 'no-push') continue;
        const files = c.target.endsWith('-deb')
          ? [buildDeb(machineDir, { name: `app-${c.target}`, version: '1.0-1', arch: c.target.split('-')[0]!, payload: what === 'half-push' ? 3_000_000 : 1000 })]
          : await writeGeneratedRpms(join(machineDir, 'rpms'), 1, { size: what === 'half-push' ? 3_000_000 : 20_000, arches: ['x86_64'], prefix: `app-${c.target}` });
        const push = spawnAgent('build-agent', ['push', '--credential', cred, '--release', c.release, '--target', c.target, ...(what === 'half-push' ? ['--bwlimit', '100k'] : []), ...files]);
        booted.get(d.id)!.push(push);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function release(args: string[]) {
    const { file, args: pre } = agentCommand('orchestrator-agent');
    const child = spawn(file, [...pre, 'release', '--state-dir', orchState, '--provider', 'digitalocean', '--channel', 'stable', ...args], { env: { ...process.env, DIGITALOCEAN_TOKEN: emu.token } });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, exited, out: () => out, err: () => err };
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pkgfleet-do-release-'));
    emu = new DoEmulator({ activeAfterMs: 400 });
    await emu.start();
    orchState = join(work, 'orch');
    const repoState = join(work, 'repo-server');
    const key = join(work, 'signing.asc');
    const pub = join(work, 'signing.pub.asc');
    expect((await runAgent('orchestrator-agent', ['--state-dir', orchState, 'keys', 'generate', '--name', 'do test', '--email', 'do@example.com', '--out', key])).code).toBe(0);
    writeFileSync(pub, (await runAgent('orchestrator-agent', ['keys', 'export', '--key', key, '--armor'])).stdout);
    const deployPort = await freePort();
    expect((await runAgent('repo-agent', ['init', '--state-dir', repoState, '--trust-key', pub, '--listen', `127.0.0.1:${deployPort}`])).code).toBe(0);
    expect((await runAgent('repo-agent', ['credentials', 'issue', '--state-dir', repoState, '--out', join(work, 'deploy.cred')])).code).toBe(0);
    repoServe = spawnAgent('repo-agent', ['serve', '--state-dir', repoState]);
    const orchPort = await freePort();
    expect((await runAgent('orchestrator-agent', ['init', '--state-dir', orchState, '--listen', `127.0.0.1:${orchPort}`])).code).toBe(0);
    const cfgPath = join(orchState, 'orchestrator-agent.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, repoKey: key, deployCredential: join(work, 'deploy.cred'), digitaloceanApiUrl: emu.url, machinesPollInterval: '200ms', machinesRegisterTimeout: '30s', heartbeat: '1s' }));
    orchServe = spawnAgent('orchestrator-agent', ['serve', '--state-dir', orchState]);
    let out = '';
    orchServe.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('listening on'), 'orchestrator-agent serve');
  });
  afterEach(() => {
    for (const list of booted.values()) for (const c of list) c.kill('SIGKILL');
    booted.clear();
  });
  afterAll(async () => {
    orchServe?.kill('SIGTERM');
    repoServe?.kill('SIGTERM');
    await emu.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('creates 3 droplets, they register and push, it publishes and deploys, and 0 droplets remain', async () => {
    behaviour = () => 'push';
    emu.inject({ kind: '429', retryAfterSec: 1 }, 2, ['POST']);
    emu.inject({ kind: '5xx' }, 1, ['GET']);
    const stop = { done: false };
    void bootLoop(stop);
    const r = release(['--release', 'v5.0.0', '--targets', 'amd64-deb,arm64-deb,amd64-rpm', '--timeout', '60s']);
    const code = await r.exited;
    stop.done = true;
    expect(r.err()).not.toMatch(new RegExp(emu.token));
    expect(code, r.err()).toBe(0);
    expect(r.out()).toMatch(/3 build machine\(s\) registered/);
    expect(r.out()).toMatch(/published apt: 2 package\(s\)/);
    expect(r.out()).toMatch(/published yum: 1 package\(s\)/);
    expect(r.out()).toMatch(/deployed: snapshot/);
    expect(r.out()).toMatch(/deleted 3 build machine\(s\) of v5.0.0/);
    expect(fleet()).toEqual([]);
    const creds = JSON.parse((await runAgent('orchestrator-agent', ['credentials', 'list', '--state-dir', orchState, '--json'])).stdout).credentials as Array<{ release: string; revokedAt?: string }>;
    expect(creds.filter((c) => c.release === 'v5.0.0').every((c) => c.revokedAt)).toBe(true);
  });

  it('a failed build and a push that never finishes end with a clear error naming them, and 0 droplets', async () => {
    behaviour = (t) => (t === 'arm64-deb' ? 'no-push' : t === 'amd64-rpm' ? 'half-push' : 'push');
    const stop = { done: false };
    void bootLoop(stop);
    const r = release(['--release', 'v5.0.1', '--targets', 'amd64-deb,arm64-deb,amd64-rpm', '--timeout', '8s']);
    const code = await r.exited;
    stop.done = true;
    expect(code).toBe(1);
    expect(r.err()).toMatch(/release v5.0.1: no complete artifacts from arm64-deb, amd64-rpm after 8 s/);
    expect(r.out()).toMatch(/deleted 3 build machine\(s\) of v5.0.1/);
    expect(fleet()).toEqual([]);
  });

  it('SIGTERM mid-release stops it with a clear error and deletes the droplets', async () => {
    behaviour = () => 'no-push';
    const stop = { done: false };
    void bootLoop(stop);
    const r = release(['--release', 'v5.0.2', '--targets', 'amd64-deb,arm64-deb', '--timeout', '5m']);
    await waitFor(() => r.out().includes('registered; waiting for their pushes'), 'the release to wait for pushes', 30_000);
    r.child.kill('SIGTERM');
    const code = await r.exited;
    stop.done = true;
    expect(code).not.toBe(0);
    expect(r.err()).toMatch(/interrupted by SIGTERM/);
    expect(r.out()).toMatch(/deleted 2 build machine\(s\) of v5.0.2/);
    expect(fleet()).toEqual([]);
  });
});
