import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../helpers/agents';
import { TestOrchestrator } from '../helpers/orchestrator';
import { rawPeer, silentTcp, tlsWithUnknownIdentity } from '../helpers/raw-client';
import { sleep } from '../helpers/net';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hand-off bad input: a clear error, nothing stored, the service keeps serving', () => {
  let orch: TestOrchestrator;
  let work: string;
  let file: string;

  /** After each refusal: incoming/ unchanged and a good push still works. */
  async function assertStillServing(before: string[]): Promise<void> {
    expect(orch.incomingSnapshot()).toEqual(before);
    const cred = await orch.credential('vok', 'amd64-deb');
    const good = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'vok', '--target', 'amd64-deb', file]);
    expect(good.code).toBe(0);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pkgfleet-bad-'));
    file = join(work, 'pkg_1.0_amd64.deb');
    writeFileSync(file, randomBytes(200_000));
    orch = new TestOrchestrator();
    await orch.init({ maxMessageBytes: 65536, heartbeat: '2s' });
    await orch.start();
  });
  afterAll(async () => {
    await orch.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const push = (cred: string, release = 'v1.0.0', extra: string[] = []) => runAgent('build-agent', ['push', '--credential', cred, '--release', release, '--target', 'amd64-deb', ...extra, file]);

  it('refuses a credential with a wrong secret during the TLS handshake', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const c = JSON.parse(readFileSync(cred, 'utf8'));
    c.secret = 'ab'.repeat(32);
    writeFileSync(cred, JSON.stringify(c), { mode: 0o600 });
    const before = orch.incomingSnapshot();
    const r = await push(cred);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused credential build-[0-9a-f]+ during the TLS handshake/);
    await assertStillServing(before);
  });

  it('refuses an expired credential', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb', '1s');
    await sleep(1200);
    const before = orch.incomingSnapshot();
    const r = await push(cred);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/credential build-[0-9a-f]+ expired at/);
    await assertStillServing(before);
  });

  it('refuses a revoked credential, and cuts off a connection whose credential is revoked', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const id = JSON.parse(readFileSync(cred, 'utf8')).id;
    const live = await rawPeer(cred);
    const rv = await runAgent('orchestrator-agent', ['credentials', 'revoke', '--state-dir', orch.stateDir, '--id', id]);
    expect(rv.code).toBe(0);
    expect(rv.stdout).toMatch(/revoked 1 credential/);
    const before = orch.incomingSnapshot();
    const r = await push(cred);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`credential ${id} was revoked`));
    const closed = await live.closed;
    expect(closed.afterMs).toBeLessThan(10_000);
    await assertStillServing(before);
  });

  it('refuses another release than the credential was issued for, even if the file claims it', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const c = JSON.parse(readFileSync(cred, 'utf8'));
    c.release = 'v9.9.9';
    writeFileSync(cred, JSON.stringify(c), { mode: 0o600 });
    const before = orch.incomingSnapshot();
    const r = await push(cred, 'v9.9.9');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/credential is for release v1.0.0 target amd64-deb, not release v9.9.9/);
    await assertStillServing(before);
  });

  it('closes unauthenticated sockets within seconds: unknown identity, silent TCP, no hello', async () => {
    const before = orch.incomingSnapshot();
    const tls = await tlsWithUnknownIdentity('127.0.0.1', orch.port);
    expect(tls.error).not.toBe('connected');
    expect(tls.afterMs).toBeLessThan(2000);
    const tcp = await silentTcp('127.0.0.1', orch.port);
    expect(tcp.afterMs).toBeLessThan(8000);
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const mute = await rawPeer(cred, { hello: false });
    const closed = await mute.closed;
    expect(closed.afterMs).toBeLessThan(8000);
    expect(mute.received[0]).toMatchObject({ type: 'error', code: 'E_HELLO_TIMEOUT' });
    expect(orch.proc!.logs().some((l) => /TLS handshake/.test(l.msg))).toBe(true);
    await assertStillServing(before);
  });

  it.each([
    ['malformed JSON', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendText('{not json'), 'E_MALFORMED', /not JSON/],
    ['an oversized message', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendText(JSON.stringify({ type: 'heartbeat', seq: 1, pad: 'x'.repeat(70_000) })), 'E_MESSAGE_TOO_LARGE', /maxMessageBytes/],
    ['file.begin before an offer', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendJson({ type: 'file.begin', name: 'a.deb', size: 1, sha256: 'a'.repeat(64), offset: 0 }), 'E_OUT_OF_ORDER', /before push.offer/],
    ['binary data out of place', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendBinary(Buffer.alloc(10)), 'E_OUT_OF_ORDER', /binary data outside/],
    ['a name with ..', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: '..', size: 1, sha256: 'a'.repeat(64) }] }), 'E_MALFORMED', /contains "\.\."/],
    ['a name with /', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'x/../../etc/passwd', size: 1, sha256: 'a'.repeat(64) }] }), 'E_MALFORMED', /contains "\/"/],
    ['a name with NUL', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'a\u0000b.deb', size: 1, sha256: 'a'.repeat(64) }] }), 'E_MALFORMED', /NUL/],
    ['a name with a control character', (p: Awaited<ReturnType<typeof rawPeer>>) => p.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'a\u001bb.deb', size: 1, sha256: 'a'.repeat(64) }] }), 'E_MALFORMED', /control character/],
  ])('refuses %s and disconnects', async (_what, misbehave, code, text) => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const before = orch.incomingSnapshot();
    const peer = await rawPeer(cred);
    misbehave(peer);
    const err = await peer.next('error');
    expect(err).toMatchObject({ code, fatal: true });
    expect(String(err.message)).toMatch(text);
    await peer.closed;
    await assertStillServing(before);
  });

  it('refuses a file whose bytes do not match the announced hash, storing nothing', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const before = orch.incomingSnapshot();
    const peer = await rawPeer(cred);
    const real = randomBytes(5000);
    peer.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'liar_1.0_amd64.deb', size: 5000, sha256: sha(real) }] });
    await peer.next('push.status');
    peer.sendJson({ type: 'file.begin', name: 'liar_1.0_amd64.deb', size: 5000, sha256: sha(real), offset: 0 });
    peer.sendBinary(randomBytes(5000));
    peer.sendJson({ type: 'file.end', name: 'liar_1.0_amd64.deb' });
    const err = await peer.next('error');
    expect(err).toMatchObject({ code: 'E_HASH_MISMATCH', name: 'liar_1.0_amd64.deb' });
    expect(String(err.message)).toMatch(/nothing was stored/);
    peer.ws.close();
    await peer.closed;
    await assertStillServing(before.concat());
  });

  it('protocol 2: refuses bytes that do not match the digest sent with file.end, storing nothing', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const before = orch.incomingSnapshot();
    const peer = await rawPeer(cred, { protocols: [1, 2] });
    const real = randomBytes(5000);
    peer.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'liar2_1.0_amd64.deb', size: 5000 }] });
    expect(await peer.next('push.status')).toMatchObject({ files: [{ name: 'liar2_1.0_amd64.deb', state: 'missing', offset: 0 }] });
    peer.sendJson({ type: 'file.begin', name: 'liar2_1.0_amd64.deb', size: 5000, offset: 0 });
    peer.sendBinary(randomBytes(5000));
    peer.sendJson({ type: 'file.end', name: 'liar2_1.0_amd64.deb', sha256: sha(real) });
    const err = await peer.next('error');
    expect(err).toMatchObject({ code: 'E_HASH_MISMATCH', name: 'liar2_1.0_amd64.deb' });
    expect(String(err.message)).toMatch(/nothing was stored/);
    peer.ws.close();
    await peer.closed;
    await assertStillServing(before.concat());
  });

  it('protocol 2: refuses file.end without a digest when none was announced, landing nothing', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const landed = () => orch.incomingSnapshot().filter((p) => !p.includes('.partial/'));
    const before = landed();
    const peer = await rawPeer(cred, { protocols: [1, 2] });
    peer.sendJson({ type: 'push.offer', release: 'v1.0.0', target: 'amd64-deb', replace: false, files: [{ name: 'nohash_1.0_amd64.deb', size: 100 }] });
    await peer.next('push.status');
    peer.sendJson({ type: 'file.begin', name: 'nohash_1.0_amd64.deb', size: 100, offset: 0 });
    peer.sendBinary(randomBytes(100));
    peer.sendJson({ type: 'file.end', name: 'nohash_1.0_amd64.deb' });
    const err = await peer.next('error');
    expect(err).toMatchObject({ code: 'E_NO_HASH', fatal: true });
    expect(String(err.message)).toMatch(/file.end for nohash_1.0_amd64.deb without a sha256/);
    await peer.closed;
    expect(landed()).toEqual(before);
    const cred2 = await orch.credential('vok', 'amd64-deb');
    expect((await runAgent('build-agent', ['push', '--credential', cred2, '--release', 'vok', '--target', 'amd64-deb', file])).code).toBe(0);
  });

  it('fails cleanly when the orchestrator disk is full, keeping nothing partial', async () => {
    // A state dir on a 2 MiB tmpfs: a 4 MiB push cannot fit.
    const small = new TestOrchestrator(join(mkdtempSync(join(tmpdir(), 'pkgfleet-full-')), 'state'));
    mkdirSync(small.stateDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small.stateDir]);
    try {
      await small.init();
      await small.start();
      const cred = await small.credential('v1.0.0', 'amd64-deb');
      const big = join(work, 'big_1.0_amd64.deb');
      writeFileSync(big, randomBytes(4 * 1024 * 1024));
      const r = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.0', '--target', 'amd64-deb', big]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/orchestrator disk full while receiving big_1.0_amd64.deb/);
      expect(r.stderr).toMatch(/free space/);
      expect(small.incomingSnapshot().filter((p) => !p.endsWith('manifest.json:0'))).toEqual([]);
      // Still serving: a file that fits lands.
      const ok = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.0', '--target', 'amd64-deb', file]);
      expect(ok.code).toBe(0);
      expect(small.incomingSnapshot()).toEqual(['v1.0.0/amd64-deb/manifest.json:' + readFileSync(join(small.incomingDir('v1.0.0', 'amd64-deb'), 'manifest.json')).length, 'v1.0.0/amd64-deb/pkg_1.0_amd64.deb:200000']);
    } finally {
      await small.kill('SIGKILL');
      execFileSync('umount', ['-l', small.stateDir]);
      await small.stop();
    }
  });
});
