import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { memoryLogger } from '@pkgfleet/shared';
import { utils } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnoseMachine, ensureExecutable, waitForCloudInit, bootstrapMachine } from '../../packages/orchestrator-agent/src/machines/bootstrap';
import { SshSession, type SshTarget } from '../../packages/orchestrator-agent/src/machines/ssh';
import { fakeCommand, startSshd, type Sshd } from '../helpers/sshd';

const run = promisify(execFile);
let sshd: Sshd;
let target: SshTarget;

beforeAll(async () => {
  sshd = await startSshd();
  target = { host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.clientKey, hostFingerprint: sshd.hostFingerprint };
});
afterAll(async () => {
  await sshd?.stop();
});

/** A stand-in `cloud-init` that records its arguments and answers like cloud-init 22+. */
async function fakeCloudInit(opts: { exit: number; status: string; delayS?: number }): Promise<string> {
  return fakeCommand(
    sshd,
    'cloud-init',
    `#!/bin/sh\necho "$@" >> ${join(sshd.dir, 'cloud-init.calls')}\n${opts.delayS ? `sleep ${opts.delayS}\n` : ''}echo 'status: ${opts.status}'\nexit ${opts.exit}\n`,
  );
}

describe('SSH bootstrap against a real OpenSSH server', () => {
  it('waits for cloud-init status --wait and returns its status', async () => {
    await fakeCloudInit({ exit: 0, status: 'done', delayS: 0.3 });
    const s = await SshSession.connect(target);
    try {
      expect(await waitForCloudInit(s, { timeoutMs: 10_000 })).toBe('status: done');
    } finally {
      s.close();
    }
    expect(await readFile(join(sshd.dir, 'cloud-init.calls'), 'utf8')).toContain('status --wait --long');
  });

  it('puts the tail of cloud-init-output.log into the error when cloud-init failed', async () => {
    await fakeCloudInit({ exit: 1, status: 'error' });
    const log = join(sshd.dir, 'cloud-init-output.log');
    await writeFile(log, 'x'.repeat(40_000) + '\nE: Unable to locate package pkgfleet-nonexistent\n');
    const s = await SshSession.connect(target);
    try {
      const err = await waitForCloudInit(s, { timeoutMs: 10_000, commands: { cloudInitLog: log } }).catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'E_CLOUD_INIT' });
      expect((err as Error).message).toContain('status: error');
      expect((err as Error).message).toContain('E: Unable to locate package pkgfleet-nonexistent');
      expect((err as Error).message.length).toBeLessThan(20_000);
    } finally {
      s.close();
    }
  });

  it('uploads the executable over SFTP when missing or different, restarts the unit, and skips an identical one', async () => {
    const local = join(sshd.dir, 'build-agent-local');
    await writeFile(local, '#!/bin/sh\necho build-agent 0.1.0\n');
    const remote = join(sshd.dir, 'remote/usr/local/bin/build-agent');
    const marker = join(sshd.dir, 'restarted');
    const commands = { restartAgent: `echo restarted >> ${marker}` };
    const logger = memoryLogger();
    const s = await SshSession.connect(target);
    try {
      expect(await ensureExecutable(s, { localPath: local, remotePath: remote, commands, logger })).toBe(true);
      expect((await run(remote)).stdout).toBe('build-agent 0.1.0\n');
      expect((await stat(remote)).mode & 0o777).toBe(0o755);
      expect(await ensureExecutable(s, { localPath: local, remotePath: remote, commands, logger })).toBe(false);
      await writeFile(local, '#!/bin/sh\necho build-agent 0.1.1\n');
      expect(await ensureExecutable(s, { localPath: local, remotePath: remote, commands, logger })).toBe(true);
      expect((await run(remote)).stdout).toBe('build-agent 0.1.1\n');
    } finally {
      s.close();
    }
    expect((await readFile(marker, 'utf8')).trim().split('\n')).toHaveLength(2);
  });

  it('bootstrapMachine: waits for cloud-init, then uploads, in one call', async () => {
    await fakeCloudInit({ exit: 0, status: 'done' });
    const local = join(sshd.dir, 'agent-2');
    await writeFile(local, 'binary');
    const remote = join(sshd.dir, 'remote2/build-agent');
    await bootstrapMachine(target, { executable: local, remotePath: remote, cloudInitTimeoutMs: 10_000, commands: { restartAgent: 'true' }, logger: memoryLogger() });
    expect(await readFile(remote, 'utf8')).toBe('binary');
    // A failed cloud-init stops the bootstrap before anything is uploaded.
    await fakeCloudInit({ exit: 1, status: 'error' });
    const remote3 = join(sshd.dir, 'remote3/build-agent');
    await expect(bootstrapMachine(target, { executable: local, remotePath: remote3, cloudInitTimeoutMs: 10_000, commands: { restartAgent: 'true', cloudInitLog: '/nonexistent' }, logger: memoryLogger() })).rejects.toMatchObject({ code: 'E_CLOUD_INIT' });
    await expect(stat(remote3)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a host whose key is not the expected one, and a client key it does not know', async () => {
    await expect(SshSession.connect({ ...target, hostFingerprint: 'SHA256:' + 'A'.repeat(43) })).rejects.toMatchObject({ code: 'E_SSH_HOST_KEY' });
    const other = utils.generateKeyPairSync('ed25519').private;
    await expect(SshSession.connect({ ...target, privateKey: other })).rejects.toMatchObject({ code: 'E_SSH_AUTH' });
    await expect(SshSession.connect({ ...target, privateKey: 'not a key' })).rejects.toMatchObject({ code: 'E_SSH_KEY' });
  });

  it('diagnoses: status and log tail of a reachable machine, the reason for an unreachable one', async () => {
    await fakeCloudInit({ exit: 1, status: 'error' });
    const log = join(sshd.dir, 'diag.log');
    await writeFile(log, 'Cloud-init v. 22.4.2 finished\nbuild-agent: connection refused by 10.116.0.2:7443\n');
    const text = await diagnoseMachine(target, { commands: { cloudInitLog: log } });
    expect(text).toContain('cloud-init status (exit 1): status: error');
    expect(text).toContain('connection refused by 10.116.0.2:7443');
    const down = await diagnoseMachine({ ...target, port: 1 }, { timeoutMs: 3000 });
    expect(down).toMatch(/^unreachable by SSH: .*ECONNREFUSED/);
  });
});
