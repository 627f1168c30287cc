import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AuthError, ConfigError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';

/**
 * Credentials are TLS 1.3 pre-shared keys (see docs/TRANSPORT.md). The server keeps a master key
 * and one small record per credential (scope, expiry, revocation); a credential's secret is
 * HMAC-SHA256(master, id), so the store never holds client secrets and revoking is one write.
 * The client's credential file (mode 0600) holds all it needs: server URL, id and secret.
 */

export const CredentialFile = z.strictObject({
  kind: z.literal('pkgfleet-credential'),
  version: z.literal(1),
  url: z.string().regex(/^wss:\/\/[^/\s]+(\/.*)?$/, 'must be a wss:// URL'),
  id: z.string().regex(/^[a-z]+-[0-9a-f]{16,64}$/),
  secret: z.string().regex(/^[0-9a-f]{64}$/),
  role: z.enum(['build', 'deploy']),
  release: z.string().optional(),
  target: z.string().optional(),
  issuedAt: z.string(),
  expiresAt: z.string().optional(),
});
export type CredentialFile = z.infer<typeof CredentialFile>;

export const CredentialRecord = z.strictObject({
  id: z.string(),
  role: z.enum(['build', 'deploy']),
  release: z.string().optional(),
  target: z.string().optional(),
  issuedAt: z.string(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
});
export type CredentialRecord = z.infer<typeof CredentialRecord>;

export type CredentialScope = { role: 'build'; release: string; target: string } | { role: 'deploy' };

/** Why a known credential may not be used now, or undefined if it may. */
export function credentialProblem(rec: CredentialRecord, now: Date): string | undefined {
  if (rec.revokedAt) return `credential ${rec.id} was revoked at ${rec.revokedAt}`;
  if (rec.expiresAt && Date.parse(rec.expiresAt) <= now.getTime()) return `credential ${rec.id} expired at ${rec.expiresAt}`;
  return undefined;
}

export function describeScope(rec: { role: string; release?: string | undefined; target?: string | undefined }): string {
  return rec.role === 'build' ? `release ${rec.release} target ${rec.target}` : 'deploy';
}

export class CredentialStore {
  private readonly masterPath: string;
  private readonly recordsDir: string;
  private master: Buffer | undefined;

  /** `dir` is the agent's trust directory, e.g. <state>/trust. */
  constructor(readonly dir: string) {
    this.masterPath = join(dir, 'psk-master.key');
    this.recordsDir = join(dir, 'credentials');
  }

  /** Create the master key if there is none (idempotent). Returns true if it was created. */
  async init(): Promise<boolean> {
    mkdirSync(this.recordsDir, { recursive: true, mode: 0o700 });
    try {
      statSync(this.masterPath);
      return false;
    } catch {
      await writeFileAtomic(this.masterPath, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
      return true;
    }
  }

  private masterKey(): Buffer {
    if (!this.master) {
      let text: string;
      try {
        text = readFileSync(this.masterPath, 'utf8').trim();
      } catch (err) {
        throw new ConfigError('E_NOT_INITIALIZED', `no trust store at ${this.dir} (${(err as NodeJS.ErrnoException).code})`, 'run the agent\'s init command with the same --state-dir', { cause: err });
      }
      this.master = Buffer.from(text, 'hex');
      if (this.master.length !== 32) throw new ConfigError('E_TRUST_CORRUPT', `${this.masterPath} is not a 32-byte hex key`, 'restore it from backup or re-run init after removing it (all credentials become invalid)');
    }
    return this.master;
  }

  secretFor(id: string): Buffer {
    return createHmac('sha256', this.masterKey()).update(`pkgfleet-psk-v1:${id}`).digest();
  }

  async issue(scope: CredentialScope, url: string, opts: { ttlMs?: number; now?: Date } = {}): Promise<{ file: CredentialFile; record: CredentialRecord }> {
    const now = opts.now ?? new Date();
    const id = `${scope.role === 'build' ? 'build' : 'deploy'}-${randomBytes(12).toString('hex')}`;
    const record: CredentialRecord = {
      id,
      role: scope.role,
      ...(scope.role === 'build' ? { release: scope.release, target: scope.target } : {}),
      issuedAt: now.toISOString(),
      ...(opts.ttlMs ? { expiresAt: new Date(now.getTime() + opts.ttlMs).toISOString() } : {}),
    };
    await writeFileAtomic(join(this.recordsDir, `${id}.json`), JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
    const file: CredentialFile = { kind: 'pkgfleet-credential', version: 1, url, secret: this.secretFor(id).toString('hex'), ...record };
    return { file, record };
  }

  /** Synchronous: called from TLS's PSK callback for each handshake. */
  lookup(id: string): CredentialRecord | undefined {
    if (!/^[a-z]+-[0-9a-f]{16,64}$/.test(id)) return undefined;
    try {
      return CredentialRecord.parse(JSON.parse(readFileSync(join(this.recordsDir, `${id}.json`), 'utf8')));
    } catch {
      return undefined;
    }
  }

  list(): CredentialRecord[] {
    let names: string[];
    try {
      names = readdirSync(this.recordsDir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => this.lookup(n.slice(0, -5)))
      .filter((r): r is CredentialRecord => r !== undefined)
      .sort((a, b) => a.issuedAt.localeCompare(b.issuedAt) || a.id.localeCompare(b.id));
  }

  /** Revoke every credential matching the filter; returns those newly revoked. Idempotent. */
  async revoke(filter: { id?: string; release?: string; target?: string; all?: boolean }, now = new Date()): Promise<CredentialRecord[]> {
    const out: CredentialRecord[] = [];
    for (const rec of this.list()) {
      const match = filter.all || (filter.id ? rec.id === filter.id : (filter.release === undefined || rec.release === filter.release) && (filter.target === undefined || rec.target === filter.target));
      if (!match || rec.revokedAt) continue;
      const revoked = { ...rec, revokedAt: now.toISOString() };
      await writeFileAtomic(join(this.recordsDir, `${rec.id}.json`), JSON.stringify(revoked, null, 2) + '\n', { mode: 0o600 });
      out.push(revoked);
    }
    return out;
  }
}

/** Read and check a credential file: JSON of the right shape, not readable by group or others. */
export function readCredentialFile(path: string): CredentialFile {
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw new AuthError('E_CREDENTIAL_MODE', `credential file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)})`, `run: chmod 600 ${path}`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof AuthError) throw err;
    throw new AuthError('E_CREDENTIAL_READ', `credential file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message}`, 'pass --credential FILE (made by `orchestrator-agent credentials issue`) or set PKGFLEET_CREDENTIAL', { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new AuthError('E_CREDENTIAL_PARSE', `credential file ${path} is not JSON`, 'issue a new one with `credentials issue`');
  }
  const parsed = CredentialFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AuthError('E_CREDENTIAL_PARSE', `credential file ${path}: ${issue?.path.join('.') || 'content'} ${issue?.message}`, 'issue a new one with `credentials issue`');
  }
  return parsed.data;
}

export async function writeCredentialFile(path: string, file: CredentialFile): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
}

export function sameSecret(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
