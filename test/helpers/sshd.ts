import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 and a random port, for tests of
 * the ssh2 code: its own host key, a client key pair in authorized_keys, public key login only,
 * the internal SFTP server, and `binDir` first on the PATH of every session (fake `cloud-init`,
 * `systemctl` …). Must run as root (sshd switches users); stop() kills it by PID and removes the dir.
 */
export interface Sshd {
  port: number;
  dir: string;
  /** Scripts placed here shadow the system's commands in SSH sessions. */
  binDir: string;
  clientKey: string;
  hostFingerprint: string;
  user: string;
  stop(): Promise<void>;
}

// Not net.ts's freePort: the benchmarks load this file with Node's type stripping, which needs
// explicit extensions on relative imports (and tsc refuses them here), so it imports builtins only.
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with status ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshd(): Promise<Sshd> {
  if (process.getuid?.() !== 0) throw new Error('startSshd needs root (sshd changes to the login user)');
  const dir = await mkdtemp(join(tmpdir(), 'pkgfleet-sshd-'));
  const binDir = join(dir, 'bin');
  await mkdir(binDir);
  await chmod(dir, 0o755);
  // sshd's privilege separation directory (made by the Debian package's service, not by sshd itself).
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')));
  const { stdout: fp } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host_key.pub')]);
  const user = 'root';
  const config = [
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${user}`,
    'Subsystem sftp internal-sftp',
    `SetEnv PATH=${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    'LogLevel ERROR',
    '',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), config);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    try {
      await waitForPort(port, child, 10_000);
      return {
        port,
        dir,
        binDir,
        user,
        clientKey: await readFile(join(dir, 'client_key'), 'utf8'),
        hostFingerprint: fp.split(' ')[1]!,
        async stop() {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            await new Promise((r) => child.once('exit', r));
          }
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      if (child.exitCode === null) child.kill('SIGKILL');
      lastErr = new Error(`${(err as Error).message}: ${stderr}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastErr;
}

/** Put an executable script on the sessions' PATH. */
export async function fakeCommand(sshd: Sshd, name: string, script: string): Promise<string> {
  const path = join(sshd.binDir, name);
  await writeFile(path, script, { mode: 0o755 });
  return path;
}
