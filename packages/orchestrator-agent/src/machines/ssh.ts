import { createHash } from 'node:crypto';
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { PkgfleetError, TimeoutError } from '@pkgfleet/shared';

/**
 * SSH to a build machine (ssh2, pure JS): run a command, upload a file over SFTP in one rename,
 * read the tail of a remote file. Host keys are checked against an expected OpenSSH fingerprint
 * when one is known; otherwise the fingerprint seen is reported to `onHostKey` (trust on first
 * use within the private network).
 */
export interface SshTarget {
  host: string;
  port?: number;
  username: string;
  privateKey: string | Buffer;
  passphrase?: string;
  /** `SHA256:…` as `ssh-keygen -lf` prints it; a different host key is refused. */
  hostFingerprint?: string;
  onHostKey?: (fingerprint: string) => void;
  readyTimeoutMs?: number;
}

export class SshError extends PkgfleetError {}

export interface ExecResult {
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** OpenSSH's fingerprint of a host key blob: SHA256:<unpadded base64 of its SHA-256>. */
export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

export class SshSession {
  private sftpChannel: SFTPWrapper | undefined;

  private constructor(
    private readonly client: Client,
    readonly where: string,
  ) {}

  static async connect(t: SshTarget, signal?: AbortSignal): Promise<SshSession> {
    const where = `${t.username}@${t.host}:${t.port ?? 22}`;
    // ssh2 loads on first use: most orchestrator commands never open an SSH session.
    const ssh2 = await import('ssh2');
    const ClientClass = (ssh2.Client ?? (ssh2 as unknown as { default: typeof ssh2 }).default.Client) as typeof Client;
    return new Promise((resolve, reject) => {
      const client = new ClientClass();
      let seen: string | undefined;
      const onAbort = () => {
        client.end();
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      client.once('ready', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(new SshSession(client, where));
      });
      client.once('error', (err: Error & { level?: string }) => {
        signal?.removeEventListener('abort', onAbort);
        const hostKey = t.hostFingerprint && seen && seen !== t.hostFingerprint;
        reject(
          hostKey
            ? new SshError('E_SSH_HOST_KEY', `SSH ${where}: host key ${seen} is not the expected ${t.hostFingerprint}`, 'the machine is not the one that was created, or it was re-installed: do not trust it', { cause: err })
            : err.level === 'client-timeout'
              ? new TimeoutError('E_SSH_TIMEOUT', `SSH ${where}: no SSH handshake within ${t.readyTimeoutMs ?? 20_000} ms`, 'is the machine up and on the private network, and port 22 open?', { cause: err })
              : new SshError(err.level === 'client-authentication' ? 'E_SSH_AUTH' : 'E_SSH_CONNECT', `SSH ${where}: ${err.message}`, err.level === 'client-authentication' ? 'check machinesSshKeyFile and the ssh_keys given to the machine' : undefined, { cause: err }),
        );
      });
      try {
        client.connect({
        host: t.host,
        port: t.port ?? 22,
        username: t.username,
        privateKey: t.privateKey,
        ...(t.passphrase ? { passphrase: t.passphrase } : {}),
        readyTimeout: t.readyTimeoutMs ?? 20_000,
        hostVerifier: (key: Buffer) => {
          seen = fingerprintOf(key);
          t.onHostKey?.(seen);
          return t.hostFingerprint === undefined || seen === t.hostFingerprint;
        },
      });
      } catch (err) {
        // ssh2 parses the key synchronously.
        signal?.removeEventListener('abort', onAbort);
        reject(new SshError('E_SSH_KEY', `SSH ${where}: cannot use the private key: ${(err as Error).message}`, 'give an OpenSSH or PEM private key (machinesSshKeyFile), e.g. from ssh-keygen -t ed25519', { cause: err }));
      }
    });
  }

  /** Run `command` (a shell line); output is capped at `maxOutput` bytes per stream (the tail is kept). */
  exec(command: string, opts: { timeoutMs?: number; maxOutput?: number } = {}): Promise<ExecResult> {
    const max = opts.maxOutput ?? 1 << 20;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch: ClientChannel) => {
        if (err) return reject(new SshError('E_SSH_EXEC', `SSH ${this.where}: cannot run ${JSON.stringify(command)}: ${err.message}`, undefined, { cause: err }));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        const keep = (arr: Buffer[], b: Buffer) => {
          arr.push(b);
          let total = arr.reduce((n, x) => n + x.length, 0);
          while (total > max && arr.length > 1) total -= arr.shift()!.length;
        };
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              ch.close();
              reject(new TimeoutError('E_SSH_EXEC_TIMEOUT', `SSH ${this.where}: ${JSON.stringify(command)} did not finish within ${opts.timeoutMs} ms`));
            }, opts.timeoutMs)
          : undefined;
        let code: number | null = null;
        let sig: string | undefined;
        ch.on('data', (b: Buffer) => keep(out, b));
        ch.stderr.on('data', (b: Buffer) => keep(errOut, b));
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          sig = s;
        });
        ch.on('close', () => {
          if (timer) clearTimeout(timer);
          resolve({ code, signal: sig, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
        });
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    if (this.sftpChannel) return Promise.resolve(this.sftpChannel);
    return new Promise((resolve, reject) =>
      this.client.sftp((err, s) => {
        if (err) return reject(new SshError('E_SSH_SFTP', `SSH ${this.where}: no SFTP subsystem: ${err.message}`, 'enable "Subsystem sftp" in the machine\'s sshd_config', { cause: err }));
        this.sftpChannel = s;
        resolve(s);
      }),
    );
  }

  /** Upload to a temporary name beside `remotePath`, set the mode, then rename over it (POSIX rename). */
  async upload(localPath: string, remotePath: string, mode = 0o644): Promise<void> {
    const s = await this.sftp();
    const tmp = `${remotePath}.pkgfleet-upload-${process.pid}-${Date.now()}`;
    const step = <T>(what: string, f: (cb: (err: Error | null | undefined, v?: T) => void) => void) =>
      new Promise<T>((resolve, reject) =>
        f((err, v) => (err ? reject(new SshError('E_SSH_UPLOAD', `SSH ${this.where}: ${what}: ${err.message}`, undefined, { cause: err })) : resolve(v as T))),
      );
    try {
      await step(`upload ${localPath} to ${tmp}`, (cb) => s.fastPut(localPath, tmp, { mode }, (e) => cb(e)));
      await step(`chmod ${tmp}`, (cb) => s.chmod(tmp, mode, (e) => cb(e)));
      await step(`rename ${tmp} to ${remotePath}`, (cb) => s.ext_openssh_rename(tmp, remotePath, (e) => cb(e)));
    } catch (err) {
      await new Promise<void>((r) => s.unlink(tmp, () => r()));
      throw err;
    }
  }

  /** The last `maxBytes` of a remote file (the whole file when smaller). */
  async readTail(remotePath: string, maxBytes = 64 * 1024): Promise<string> {
    const s = await this.sftp();
    const fail = (err: Error) => new SshError('E_SSH_READ', `SSH ${this.where}: read ${remotePath}: ${err.message}`, undefined, { cause: err });
    const size = await new Promise<number>((resolve, reject) => s.stat(remotePath, (err, st) => (err ? reject(fail(err)) : resolve(st.size))));
    const start = Math.max(0, size - maxBytes);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const rs = s.createReadStream(remotePath, { start });
      rs.on('data', (b: Buffer) => chunks.push(b));
      rs.on('error', (e: Error) => reject(fail(e)));
      rs.on('end', () => resolve());
    });
    const text = Buffer.concat(chunks).toString('utf8');
    return start > 0 ? `[… first ${start} bytes left out]\n` + text : text;
  }

  close(): void {
    this.client.end();
  }
}
