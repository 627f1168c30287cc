import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialStore, credentialProblem, readCredentialFile, writeCredentialFile } from './credentials';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pkgfleet-cred-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('credential store', () => {
  it('issues a scoped, expiring credential whose secret only the store can derive', async () => {
    const store = new CredentialStore(tmp());
    expect(await store.init()).toBe(true);
    expect(await store.init()).toBe(false);
    const now = new Date('2026-01-01T00:00:00Z');
    const { file, record } = await store.issue({ role: 'build', release: 'v1.2.3', target: 'amd64-deb' }, 'wss://127.0.0.1:7443', { ttlMs: 3_600_000, now });
    expect(file.secret).toBe(store.secretFor(file.id).toString('hex'));
    expect(record).toMatchObject({ release: 'v1.2.3', target: 'amd64-deb', expiresAt: '2026-01-01T01:00:00.000Z' });
    expect(JSON.stringify(store.lookup(file.id))).not.toContain(file.secret);
    expect(credentialProblem(record, new Date('2026-01-01T00:59:59Z'))).toBeUndefined();
    expect(credentialProblem(record, new Date('2026-01-01T01:00:00Z'))).toMatch(/expired/);
    const other = new CredentialStore(tmp());
    await other.init();
    expect(other.secretFor(file.id).toString('hex')).not.toBe(file.secret);
  });

  it('revokes by release and target, idempotently', async () => {
    const store = new CredentialStore(tmp());
    await store.init();
    const a = await store.issue({ role: 'build', release: 'v1', target: 'amd64-deb' }, 'wss://h:1');
    const b = await store.issue({ role: 'build', release: 'v1', target: 'arm64-deb' }, 'wss://h:1');
    const c = await store.issue({ role: 'build', release: 'v2', target: 'amd64-deb' }, 'wss://h:1');
    expect((await store.revoke({ release: 'v1', target: 'amd64-deb' })).map((r) => r.id)).toEqual([a.file.id]);
    expect((await store.revoke({ release: 'v1' })).map((r) => r.id)).toEqual([b.file.id]);
    expect(await store.revoke({ release: 'v1' })).toEqual([]);
    expect(credentialProblem(store.lookup(a.file.id)!, new Date())).toMatch(/revoked/);
    expect(credentialProblem(store.lookup(c.file.id)!, new Date())).toBeUndefined();
  });

  it('writes credential files 0600 and refuses ones others can read', async () => {
    const store = new CredentialStore(tmp());
    await store.init();
    const { file } = await store.issue({ role: 'deploy' }, 'wss://h:1');
    const path = join(tmp(), 'cred.json');
    await writeCredentialFile(path, file);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readCredentialFile(path)).toEqual(file);
    chmodSync(path, 0o644);
    expect(() => readCredentialFile(path)).toThrow(expect.objectContaining({ message: expect.stringMatching(/readable by other users \(mode 644\)/), hint: `run: chmod 600 ${path}` }));
    const bad = join(tmp(), 'bad.json');
    writeFileSync(bad, '{"kind":"pkgfleet-credential"}', { mode: 0o600 });
    expect(() => readCredentialFile(bad)).toThrow(/credential file .*bad.json/);
  });
});
