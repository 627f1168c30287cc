import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createProgram, memoryLogger, type Command, type CommandContext } from '@pkgfleet/shared';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { register, type MachinesDeps } from '../../packages/orchestrator-agent/src/commands/machines';
import { createMachines } from '../../packages/orchestrator-agent/src/machines/create';
import { DigitalOceanProvider } from '../../packages/orchestrator-agent/src/providers/digitalocean';
import { DoEmulator } from '../helpers/do-emulator';
import { fakeCommand, startSshd, type Sshd } from '../helpers/sshd';

const HOUR = 3_600_000;
let dir: string;
let emu: DoEmulator;
let logger: ReturnType<typeof memoryLogger>;
let out: string[];
let issued: string[];
let registered: Set<string>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pkgfleet-machines-cli-'));
  emu = new DoEmulator({ activeAfterMs: 150 });
  await emu.start();
  await writeFile(join(dir, 'do-token'), emu.token + '\n', { mode: 0o600 });
  await writeFile(
    join(dir, 'orchestrator-agent.json'),
    JSON.stringify({
      machinesProvider: 'digitalocean',
      digitaloceanApiUrl: emu.url,
      digitaloceanTokenFile: join(dir, 'do-token'),
      machinesPollInterval: '100ms',
      dropletVpcUuid: 'vpc-1',
      dropletTargets: { 'amd64-rpm': { image: 'rockylinux-9-x64' } },
      buildAgentUrl: 'https://downloads.example/build-agent-linux-{arch}.xz',
      buildAgentSha256: { x64: 'c'.repeat(64) },
    }),
  );
  logger = memoryLogger();
  out = [];
  issued = [];
  registered = new Set();
});
afterEach(async () => {
  await emu.stop();
  await rm(dir, { recursive: true, force: true });
});

const deps = (): MachinesDeps => ({
  issueCredential: async (release, target) => (issued.push(target), JSON.stringify({ kind: 'pkgfleet-credential', release, target, secret: 'f'.repeat(64) })),
  // Stands in for the registration service: a machine "registers" once its droplet is active.
  waitForRegistration: async (release, targets, deadline) => {
    while (Date.now() < deadline) {
      const active = emu.list().filter((d) => d.status === 'active' && d.tags.includes(`pkgfleet-release:${release.replaceAll('.', ':')}`));
      for (const d of active) registered.add(d.tags.find((t) => t.startsWith('pkgfleet-target:'))!.slice('pkgfleet-target:'.length));
      if (targets.every((t) => registered.has(t))) return { missing: [] };
      await new Promise((r) => setTimeout(r, 50));
    }
    return { missing: targets.filter((t) => !registered.has(t)) };
  },
  context: (_cmd: Command): CommandContext => ({
    agent: 'orchestrator-agent',
    configPath: join(dir, 'orchestrator-agent.json'),
    defaultConfigPath: '/nonexistent',
    stateDirFlag: undefined,
    logFormat: 'json',
    logger,
    signal: new AbortController().signal,
    stdout: (line) => out.push(line),
  }),
});

async function cli(...args: string[]): Promise<string> {
  const program = createProgram('orchestrator-agent', 'test');
  register(program, deps());
  out = [];
  await program.parseAsync(['node', 'orchestrator-agent', ...args]);
  return out.join('\n');
}

describe('orchestrator-agent machines (CLI) against the DigitalOcean emulator', () => {
  it('create --wait, again (idempotent), list, delete leaves 0 droplets; token never logged', async () => {
    emu.inject({ kind: '429', retryAfterSec: 1 }, 2);
    emu.inject({ kind: '5xx', status: 500 }, 1, ['GET']);
    emu.inject({ kind: 'created-then-500' }, 1, ['POST']);
    const created = await cli('machines', 'create', '--release', 'v1.2.3', '--targets', 'amd64-deb,arm64-deb,amd64-rpm', '--wait', '--timeout', '30s');
    expect(created.split('\n')).toHaveLength(3);
    expect(emu.list()).toHaveLength(3);
    expect(issued.sort()).toEqual(['amd64-deb', 'amd64-rpm', 'arm64-deb']);
    const rpm = emu.list().find((d) => d.tags.includes('pkgfleet-target:amd64-rpm'))!;
    expect(rpm.image.slug).toBe('rockylinux-9-x64');
    // The user-data the droplet got is the cloud-config with its own credential.
    const ud = parse(rpm.user_data!) as { write_files: { path: string; content: string }[] };
    expect(ud.write_files.find((f) => f.path === '/etc/pkgfleet/build-agent.credential')!.content).toContain('"target":"amd64-rpm"');

    await cli('machines', 'create', '--release', 'v1.2.3', '--targets', 'amd64-deb,arm64-deb,amd64-rpm');
    expect(emu.list()).toHaveLength(3);
    expect(issued).toHaveLength(3);

    const listed = JSON.parse(await cli('machines', 'list', '--json')) as { machines: { release: string; target: string; status: string }[] };
    expect(listed.machines.map((m) => `${m.release}/${m.target}/${m.status}`)).toEqual(['v1.2.3/amd64-deb/active', 'v1.2.3/amd64-rpm/active', 'v1.2.3/arm64-deb/active']);
    expect(await cli('machines', 'list')).toMatch(/^RELEASE\s+TARGET\s+NAME.*\nv1\.2\.3\s+amd64-deb\s+pkgfleet-v1-2-3-amd64-deb\s+active/);

    expect(await cli('machines', 'delete', '--release', 'v1.2.3')).toBe('deleted 3 machines of release v1.2.3');
    expect(emu.list()).toHaveLength(0);
    expect(await cli('machines', 'delete', '--release', 'v1.2.3')).toBe('deleted 0 machines of release v1.2.3');

    expect(logger.lines.some((l) => l.includes('retrying'))).toBe(true);
    for (const l of logger.lines) expect(l).not.toContain(emu.token);
  });

  it('reap --older-than 6h deletes only pkgfleet machines past the age', async () => {
    const now = Date.now();
    emu.seed({ name: 'pkgfleet-v0-1-0-amd64-deb', tags: ['pkgfleet', 'pkgfleet-release:v0:1:0', 'pkgfleet-target:amd64-deb'], createdAt: new Date(now - 8 * HOUR) });
    emu.seed({ name: 'pkgfleet-v0-2-0-amd64-deb', tags: ['pkgfleet', 'pkgfleet-release:v0:2:0', 'pkgfleet-target:amd64-deb'], createdAt: new Date(now - 2 * HOUR) });
    emu.seed({ name: 'mail', tags: ['prod'], createdAt: new Date(now - 800 * HOUR) });
    expect(await cli('machines', 'reap', '--older-than', '6h', '--dry-run')).toContain('would reap 1 machine older than 6h');
    expect(emu.list()).toHaveLength(3);
    expect(await cli('machines', 'reap', '--older-than', '6h')).toMatch(/deleted\tpkgfleet-v0-1-0-amd64-deb\t\d+\t.*\nreaped 1 machine older than 6h/);
    expect(emu.list().map((d) => d.name).sort()).toEqual(['mail', 'pkgfleet-v0-2-0-amd64-deb']);
  });

  it('user-data prints a cloud-config with the given credential; usage errors are UsageErrors', async () => {
    await writeFile(join(dir, 'cred.json'), '{"kind":"pkgfleet-credential","secret":"s3"}\n');
    const text = await cli('machines', 'user-data', '--release', 'v1.2.3', '--target', 'arm64-deb', '--credential', join(dir, 'cred.json'));
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    expect(text).toContain("x86_64) arch=x64; sum='" + 'c'.repeat(64));
    await expect(cli('machines', 'delete')).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(cli('machines', 'create', '--release', 'v1..2', '--targets', 'amd64-deb')).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(cli('machines', 'reap', '--older-than', 'soon')).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('create --wait when a machine never registers', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('names the target and puts what the machine says (cloud-init status, log tail) into the error', async () => {
    await fakeCommand(sshd, 'cloud-init', "#!/bin/sh\necho 'status: error'\nexit 1\n");
    const log = join(sshd.dir, 'cloud-init-output.log');
    await writeFile(log, 'curl: (6) Could not resolve host: downloads.example\n');
    const provider = new DigitalOceanProvider({
      token: emu.token,
      baseUrl: emu.url,
      logger,
      droplet: { region: 'fra1', size: 's-1vcpu-1gb', image: 'debian-12-x64', sshKeys: [], monitoring: false },
      userData: () => '#cloud-config\n',
      pollIntervalMs: 50,
    });
    const err = await createMachines({
      provider,
      release: 'v5.0.0',
      targets: ['amd64-deb', 'arm64-deb'],
      issueCredential: async () => 'cred',
      readyTimeoutMs: 10_000,
      wait: { timeoutMs: 300, waitForRegistration: async (_r, _t, deadline) => (await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))), { missing: ['arm64-deb'] }) },
      // The emulator's private addresses are not reachable: the machine's SSH is the local sshd.
      ssh: { targetFor: () => ({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.clientKey }), commands: { cloudInitLog: log } },
      logger,
    }).catch((e: Error & { code?: string }) => e);
    expect(err).toMatchObject({ code: 'E_MACHINES_NOT_REGISTERED' });
    const msg = (err as Error).message;
    expect(msg).toMatch(/did not register within 300ms: arm64-deb\n/);
    expect(msg).toMatch(/arm64-deb: pkgfleet-v5-0-0-arm64-deb \(id \d+, 10\.116\.0\.\d+, active\)/);
    expect(msg).toContain('cloud-init status (exit 1): status: error');
    expect(msg).toContain('Could not resolve host: downloads.example');
    expect(msg).not.toMatch(/amd64-deb: /);
  });
});
