import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_AGENT_UNIT } from '../../packages/orchestrator-agent/src/machines/units';

const run = promisify(execFile);
const UNITS_DIR = new URL('../../deploy/systemd/', import.meta.url).pathname;
const AGENTS = ['build-agent', 'orchestrator-agent', 'repo-agent'];

let root: string;

/**
 * A throwaway root for `systemd-analyze verify --root`: the system's own units (so that
 * multi-user.target and friends resolve), ours under /etc/systemd/system, and a stand-in
 * executable at each ExecStart path (verify checks that the command exists and is executable).
 */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pkgfleet-systemd-'));
  await mkdir(join(root, 'usr/lib/systemd'), { recursive: true });
  await cp('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  for (const a of AGENTS) {
    await cp(join(UNITS_DIR, `${a}.service`), join(root, 'etc/systemd/system', `${a}.service`));
    await writeFile(join(root, 'usr/local/bin', a), '#!/bin/sh\nexit 0\n');
    await chmod(join(root, 'usr/local/bin', a), 0o755);
  }
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function verify(unit: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', `--root=${root}`, unit]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

describe('deploy/systemd units', () => {
  it.each(AGENTS)('%s.service passes systemd-analyze verify without a single line of output', async (agent) => {
    // verify exits 0 on warnings: any output counts as a failure.
    expect(await verify(`${agent}.service`)).toEqual({ code: 0, output: '' });
  });

  it('verify catches a misspelt directive and a missing executable (the check can fail)', async () => {
    const unit = join(root, 'etc/systemd/system/broken-agent.service');
    const text = (await readFile(join(UNITS_DIR, 'repo-agent.service'), 'utf8')).replace('ProtectHome=yes', 'ProtectHome=yes\nProtectHomme=yes');
    await writeFile(unit, text.replaceAll('/usr/local/bin/repo-agent', '/usr/local/bin/not-installed'));
    const { output } = await verify('broken-agent.service');
    expect(output).toMatch(/ProtectHomme/);
    expect(output).toMatch(/not-installed/);
    await rm(unit);
  });

  it.each(AGENTS)('%s.service is hardened (systemd-analyze security exposure at most 2.5)', async (agent) => {
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=25', join(UNITS_DIR, `${agent}.service`)]);
    const level = Number(/Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(stdout)?.[1]);
    expect(level).toBeLessThanOrEqual(2.5);
    const text = await readFile(join(UNITS_DIR, `${agent}.service`), 'utf8');
    for (const d of ['ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes', 'Restart=on-failure']) expect(text).toContain(d);
    expect(text).toMatch(/^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$/m);
  });

  it('only the repo-agent may bind port 80', async () => {
    for (const a of AGENTS) {
      const text = await readFile(join(UNITS_DIR, `${a}.service`), 'utf8');
      expect(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m.test(text)).toBe(a === 'repo-agent');
    }
  });

  it('the unit cloud-init installs on build machines is deploy/systemd/build-agent.service', async () => {
    expect(BUILD_AGENT_UNIT).toBe(await readFile(join(UNITS_DIR, 'build-agent.service'), 'utf8'));
  });

  it('build-agent.service starts under a real systemd (nspawn): credential handed over, root read-only, state dir writable', async () => {
    const d = await mkdtemp(join(tmpdir(), 'pkgfleet-nspawn-'));
    try {
      await mkdir(join(d, 'out'));
      // /usr is the host's, read-only: the stand-in executable lives under /opt in the volatile root.
      const unit = (await readFile(join(UNITS_DIR, 'build-agent.service'), 'utf8')).replaceAll('/usr/local/bin/build-agent', '/opt/pkgfleet/build-agent');
      await writeFile(join(d, 'unit'), unit);
      await writeFile(
        join(d, 'agent'),
        [
          '#!/bin/sh',
          'echo "credential=$(cat "$PKGFLEET_CREDENTIAL")"',
          'echo "uid=$(id -u)"',
          'touch /etc/pkgfleet/probe 2>/dev/null && echo etc=writable || echo etc=read-only',
          'touch /var/lib/pkgfleet-build/probe && echo state=writable || echo state=read-only',
          'cat /etc/pkgfleet/build-agent.credential >/dev/null 2>&1 && echo raw-credential=readable || echo raw-credential=unreadable',
          'echo "args=$*"',
          'exec sleep 600',
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      await writeFile(join(d, 'cred'), '{"kind":"pkgfleet-credential","secret":"nspawn"}', { mode: 0o600 });
      await writeFile(join(d, 'cfg'), '{}\n');
      await writeFile(
        join(d, 'probe.service'),
        "[Unit]\nAfter=build-agent.service\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'sleep 2; systemctl show -p ActiveState,SubState build-agent.service > /out/state; journalctl -u build-agent.service -o cat --no-pager > /out/journal; systemctl poweroff'\n",
      );
      const machine = `pkgfleet-${randomBytes(4).toString('hex')}`;
      await run(
        'timeout',
        [
          '120',
          'systemd-nspawn', '-D', '/', '--volatile=yes', '--register=no', '--keep-unit', '--boot', '--console=passive', `--machine=${machine}`,
          `--bind=${join(d, 'out')}:/out`,
          `--bind-ro=${join(d, 'unit')}:/etc/systemd/system/build-agent.service`,
          `--bind-ro=${join(d, 'probe.service')}:/etc/systemd/system/probe.service`,
          `--bind-ro=${join(d, 'agent')}:/opt/pkgfleet/build-agent`,
          `--bind-ro=${join(d, 'cred')}:/etc/pkgfleet/build-agent.credential`,
          `--bind-ro=${join(d, 'cfg')}:/etc/pkgfleet/build-agent.json`,
          '--', 'systemd.firstboot=off', 'systemd.wants=build-agent.service', 'systemd.wants=probe.service',
        ],
        { maxBuffer: 16 << 20 },
      );
      expect(await readFile(join(d, 'out/state'), 'utf8')).toBe('ActiveState=active\nSubState=running\n');
      const journal = await readFile(join(d, 'out/journal'), 'utf8');
      expect(journal).toContain('credential={"kind":"pkgfleet-credential","secret":"nspawn"}');
      expect(journal).toMatch(/uid=[1-9]\d*/);
      expect(journal).toContain('etc=read-only');
      expect(journal).toContain('state=writable');
      expect(journal).toContain('raw-credential=unreadable');
      expect(journal).toContain('args=serve --config /etc/pkgfleet/build-agent.json --log-format json');
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
