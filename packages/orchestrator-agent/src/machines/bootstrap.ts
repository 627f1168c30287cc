import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { PkgfleetError, type Logger } from '@pkgfleet/shared';
import { SshSession, type SshTarget } from './ssh';
import { EXECUTABLE_PATH, UNIT_NAME, shQuote } from './user-data';

/**
 * Bootstrap and diagnostics of a build machine over SSH on its private address: wait until
 * cloud-init is done, upload the build-agent when the image lacks it, and collect what a person
 * needs to see when a machine never registers.
 */
export interface RemoteCommands {
  /** `cloud-init` on the machine (an absolute path, or a name on its PATH). */
  cloudInit?: string;
  /** Started after an upload; default `systemctl restart build-agent.service`. */
  restartAgent?: string;
  cloudInitLog?: string;
}

export class BootstrapError extends PkgfleetError {}

const defaults = (c: RemoteCommands = {}) => ({
  cloudInit: c.cloudInit ?? 'cloud-init',
  restartAgent: c.restartAgent ?? `systemctl restart ${UNIT_NAME}`,
  cloudInitLog: c.cloudInitLog ?? '/var/log/cloud-init-output.log',
});

/**
 * `cloud-init status --wait`: resolves with its status line once cloud-init finished, throws
 * with the tail of cloud-init's output log when it ended in error.
 */
export async function waitForCloudInit(s: SshSession, opts: { timeoutMs: number; commands?: RemoteCommands }): Promise<string> {
  const c = defaults(opts.commands);
  const r = await s.exec(`${c.cloudInit} status --wait --long`, { timeoutMs: opts.timeoutMs });
  const status = (r.stdout + r.stderr).trim();
  if (r.code === 0) return status;
  const log = await s.readTail(c.cloudInitLog, 16 * 1024).catch((err: Error) => `(cannot read ${c.cloudInitLog}: ${err.message})`);
  throw new BootstrapError('E_CLOUD_INIT', `${s.where}: cloud-init ended with exit status ${r.code}: ${status}\n--- ${c.cloudInitLog} (tail) ---\n${log}`, 'fix the user-data or the image (see `machines user-data`), then delete and create the machine again');
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Make sure the machine runs exactly `localPath` as its build-agent: compare SHA-256s, upload over
 * SFTP (temporary name, then rename) when missing or different, and restart the unit. Returns
 * whether it uploaded.
 */
export async function ensureExecutable(
  s: SshSession,
  opts: { localPath: string; remotePath?: string; commands?: RemoteCommands; logger: Logger },
): Promise<boolean> {
  const c = defaults(opts.commands);
  const remote = opts.remotePath ?? EXECUTABLE_PATH;
  const want = await sha256File(opts.localPath);
  const have = await s.exec(`sha256sum ${shQuote(remote)} 2>/dev/null`);
  if (have.code === 0 && have.stdout.split(/\s/)[0] === want) {
    opts.logger.debug('build-agent already installed', { machine: s.where, sha256: want });
    return false;
  }
  opts.logger.info('uploading build-agent', { machine: s.where, to: remote, sha256: want });
  const dir = remote.slice(0, remote.lastIndexOf('/')) || '/';
  await s.exec(`mkdir -p ${shQuote(dir)}`);
  await s.upload(opts.localPath, remote, 0o755);
  const check = await s.exec(`sha256sum ${shQuote(remote)}`);
  if (check.stdout.split(/\s/)[0] !== want) {
    throw new BootstrapError('E_BOOTSTRAP_UPLOAD', `${s.where}: ${remote} does not hold what was uploaded (sha256 ${check.stdout.trim() || check.stderr.trim()})`, 'is the disk full? run `machines create` again');
  }
  const restart = await s.exec(c.restartAgent, { timeoutMs: 60_000 });
  if (restart.code !== 0) {
    throw new BootstrapError('E_BOOTSTRAP_START', `${s.where}: \`${c.restartAgent}\` failed (${restart.code}): ${(restart.stderr || restart.stdout).trim()}`, `look at \`journalctl -u ${UNIT_NAME}\` on the machine`);
  }
  return true;
}

/** Connect, wait for cloud-init, install the executable when given one. */
export async function bootstrapMachine(
  target: SshTarget,
  opts: { executable?: string | undefined; remotePath?: string; cloudInitTimeoutMs: number; commands?: RemoteCommands; logger: Logger; signal?: AbortSignal },
): Promise<void> {
  const s = await SshSession.connect(target, opts.signal);
  try {
    const status = await waitForCloudInit(s, { timeoutMs: opts.cloudInitTimeoutMs, ...(opts.commands ? { commands: opts.commands } : {}) });
    opts.logger.info('cloud-init done', { machine: s.where, status: status.split('\n')[0] });
    if (opts.executable) {
      await ensureExecutable(s, { localPath: opts.executable, ...(opts.remotePath ? { remotePath: opts.remotePath } : {}), ...(opts.commands ? { commands: opts.commands } : {}), logger: opts.logger });
    }
  } finally {
    s.close();
  }
}

/**
 * What a person needs when a machine never registered: cloud-init's status and the tail of its
 * output log, or why the machine could not be reached. Never throws.
 */
export async function diagnoseMachine(target: SshTarget, opts: { commands?: RemoteCommands; timeoutMs?: number; maxLogBytes?: number } = {}): Promise<string> {
  const c = defaults(opts.commands);
  let s: SshSession;
  try {
    s = await SshSession.connect({ ...target, readyTimeoutMs: opts.timeoutMs ?? target.readyTimeoutMs ?? 15_000 });
  } catch (err) {
    return `unreachable by SSH: ${(err as Error).message}`;
  }
  try {
    const st = await s.exec(`${c.cloudInit} status --long`, { timeoutMs: opts.timeoutMs ?? 15_000 }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    const log = await s.readTail(c.cloudInitLog, opts.maxLogBytes ?? 8 * 1024).catch((err: Error) => `(cannot read: ${err.message})`);
    const agent = await s.exec(`systemctl is-active ${UNIT_NAME} 2>&1; journalctl -u ${UNIT_NAME} -n 20 --no-pager 2>&1`, { timeoutMs: 15_000 }).catch(() => undefined);
    return [
      `cloud-init status (exit ${st.code}): ${(st.stdout + st.stderr).trim() || '(no output)'}`,
      ...(agent ? [`${UNIT_NAME}: ${agent.stdout.trim() || '(no output)'}`] : []),
      `--- ${c.cloudInitLog} (tail) ---`,
      log.trimEnd(),
    ].join('\n');
  } finally {
    s.close();
  }
}

