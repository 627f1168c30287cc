import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent, spawnAgent } from '../helpers/agents';
import { TestOrchestrator, parseLogs } from '../helpers/orchestrator';
import { waitFor } from '../helpers/net';
import { rawPeer } from '../helpers/raw-client';

const MiB = 1024 * 1024;
const sha256 = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function makeFiles(dir: string, prefix: string, sizes: number[]): string[] {
  return sizes.map((size, i) => {
    const p = join(dir, `${prefix}_${i + 1}.0_amd64.deb`);
    writeFileSync(p, randomBytes(size));
    return p;
  });
}

/** Bytes of the partial file being received for `target`, if any. */
function partialBytes(orch: TestOrchestrator, release: string, target: string): number {
  const dir = join(orch.incomingDir(release, target), '.partial');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

describe('artifact hand-off: build-agent push → orchestrator-agent serve (real processes, TLS-PSK WebSocket)', () => {
  let orch: TestOrchestrator;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pkgfleet-push-'));
    orch = new TestOrchestrator();
    await orch.init();
    await orch.start();
  });
  afterAll(async () => {
    await orch.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pushes files that land verified, lists them, and a second identical push sends nothing', async () => {
    const cred = await orch.credential('v1.0.0', 'amd64-deb');
    const files = makeFiles(work, 'basic', [3 * MiB, 2 * MiB + 17, 1]);
    const first = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.0', '--target', 'amd64-deb', ...files]);
    expect(first.stderr).not.toMatch(/"level":"error"/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/pushed 3 file\(s\).*0 already there/);
    for (const f of files) {
      const landed = join(orch.incomingDir('v1.0.0', 'amd64-deb'), f.split('/').pop()!);
      expect(sha256(landed)).toBe(sha256(f));
    }
    const manifest = JSON.parse(readFileSync(join(orch.incomingDir('v1.0.0', 'amd64-deb'), 'manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(3);
    expect(manifest.files[0]).toMatchObject({ name: 'basic_1.0_amd64.deb', size: 3 * MiB, sha256: sha256(files[0]!) });
    expect(manifest.files[0].pushedBy).toMatch(/^build-[0-9a-f]+@/);
    expect(Date.parse(manifest.files[0].receivedAt)).toBeGreaterThan(0);

    const list = await runAgent('orchestrator-agent', ['artifacts', 'list', '--state-dir', orch.stateDir, '--release', 'v1.0.0', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).releases[0].files.map((f: { name: string }) => f.name)).toEqual(['basic_1.0_amd64.deb', 'basic_2.0_amd64.deb', 'basic_3.0_amd64.deb']);

    const before = orch.proc!.logs().filter((l) => l.msg === 'file landed').length;
    const again = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.0', '--target', 'amd64-deb', ...files]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/pushed 0 file\(s\) \(0 B sent\), 3 already there/);
    expect(orch.proc!.logs().filter((l) => l.msg === 'file landed').length).toBe(before);
  });

  it('lands hundreds of small files exactly, more at once than the orchestrator lands in parallel', async () => {
    // 300 files: more than the 128 the orchestrator lands at once and the 256 the sender runs
    // ahead, so both wait for slots; sizes around the 64 KiB write buffers the receiver reuses
    const cred = await orch.credential('v1.1.0', 'amd64-deb');
    const sizes = Array.from({ length: 300 }, (_, i) => [1, 4096, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024][i % 6]!);
    const files = makeFiles(work, 'many', sizes);
    const r = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.1.0', '--target', 'amd64-deb', ...files]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pushed 300 file\(s\).*0 already there/);
    const dir = orch.incomingDir('v1.1.0', 'amd64-deb');
    for (const f of files) expect(sha256(join(dir, f.split('/').pop()!))).toBe(sha256(f));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.files).toHaveLength(300);
    expect(new Map(manifest.files.map((e: { name: string; sha256: string }) => [e.name, e.sha256]))).toEqual(new Map(files.map((f) => [f.split('/').pop()!, sha256(f)])));
  });

  it('refuses different content under a name that landed, unless --replace', async () => {
    const cred = await orch.credential('v1.0.1', 'amd64-deb');
    const [f] = makeFiles(work, 'conflict', [1000]);
    expect((await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.1', '--target', 'amd64-deb', f!])).code).toBe(0);
    writeFileSync(f!, randomBytes(1000));
    const refused = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.1', '--target', 'amd64-deb', f!]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already holds different content under conflict_1.0_amd64.deb/);
    expect(refused.stderr).toMatch(/--replace/);
    const replaced = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.1', '--target', 'amd64-deb', '--replace', f!]);
    expect(replaced.code).toBe(0);
    expect(sha256(join(orch.incomingDir('v1.0.1', 'amd64-deb'), 'conflict_1.0_amd64.deb'))).toBe(sha256(f!));
  });

  it('refuses a file that changes while it is pushed: nothing lands under its name', async () => {
    const cred = await orch.credential('v1.0.2', 'amd64-deb');
    const [f] = makeFiles(work, 'growing', [4 * MiB]);
    const pusher = spawnAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.2', '--target', 'amd64-deb', '--bwlimit', '2M', f!]);
    let err = '';
    pusher.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => pusher.once('exit', (c) => r(c)));
    await waitFor(() => partialBytes(orch, 'v1.0.2', 'amd64-deb') > MiB, 'the file to be partly received');
    // the build writes more while the push reads it
    appendFileSync(f!, randomBytes(1000));
    expect(await exited).toBe(1);
    expect(err).toMatch(/growing_1\.0_amd64\.deb changed while it was being pushed/);
    expect(orch.incomingSnapshot().filter((p) => p.startsWith('v1.0.2/amd64-deb/growing'))).toEqual([]);
    // once the build is done, pushing again lands the file as it is now
    const again = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v1.0.2', '--target', 'amd64-deb', f!]);
    expect(again.code).toBe(0);
    expect(sha256(join(orch.incomingDir('v1.0.2', 'amd64-deb'), 'growing_1.0_amd64.deb'))).toBe(sha256(f!));
  });

  it('survives SIGKILL of the orchestrator mid-transfer: the pusher retries and re-sends only the unfinished remainder', async () => {
    const cred = await orch.credential('v2.0.0', 'amd64-deb');
    const sizes = [4 * MiB, 4 * MiB, 4 * MiB];
    const files = makeFiles(work, 'killorch', sizes);
    const pusher = spawnAgent('build-agent', ['push', '--credential', cred, '--release', 'v2.0.0', '--target', 'amd64-deb', '--bwlimit', '6M', ...files]);
    let out = '';
    let err = '';
    pusher.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    pusher.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => pusher.once('exit', (c) => r(c)));
    // Wait until the first file landed and the second is partly received, then kill -9.
    await waitFor(() => orch.proc!.logs().some((l) => l.msg === 'file landed' && l.file === 'killorch_1.0_amd64.deb') && partialBytes(orch, 'v2.0.0', 'amd64-deb') > MiB, 'the second file to be half-received');
    const firstRun = orch.proc!;
    await orch.kill('SIGKILL');
    const heldAtKill = partialBytes(orch, 'v2.0.0', 'amd64-deb');
    expect(heldAtKill).toBeGreaterThan(MiB);
    expect(heldAtKill).toBeLessThan(4 * MiB);
    const secondRun = await orch.start();
    expect(await exited).toBe(0);
    expect(out).toMatch(/pushed 3 file\(s\)/);
    expect(parseLogs(err).some((l) => l.level === 'warn' && /retrying/.test(l.msg))).toBe(true);
    for (const f of files) expect(sha256(join(orch.incomingDir('v2.0.0', 'amd64-deb'), f.split('/').pop()!))).toBe(sha256(f));
    const landed1 = firstRun.logs().filter((l) => l.msg === 'file landed').map((l) => l.file);
    expect(landed1).toContain('killorch_1.0_amd64.deb');
    const landed2 = secondRun.logs().filter((l) => l.msg === 'file landed');
    // The file that landed before the kill is not sent again.
    expect(landed2.map((l) => l.file)).not.toContain('killorch_1.0_amd64.deb');
    const resumed = landed2.find((l) => l.file === 'killorch_2.0_amd64.deb')!;
    expect(resumed.resumedFrom).toBe(heldAtKill);
    expect(resumed.bytesReceived).toBe(4 * MiB - heldAtKill);
    const third = landed2.find((l) => l.file === 'killorch_3.0_amd64.deb')!;
    expect(third.resumedFrom).toBe(0);
    // Only the remainder crossed the wire after the restart.
    const resent = landed2.reduce((n, l) => n + (l.bytesReceived as number), 0);
    expect(resent).toBe(8 * MiB - heldAtKill);
    expect(orch.incomingSnapshot().filter((p) => p.includes('.partial/'))).toEqual([]);
  });

  it('survives SIGKILL of the pusher: running it again resumes the half-sent file', async () => {
    const cred = await orch.credential('v2.0.1', 'amd64-deb');
    const files = makeFiles(work, 'killpush', [3 * MiB, 3 * MiB]);
    const pusher = spawnAgent('build-agent', ['push', '--credential', cred, '--release', 'v2.0.1', '--target', 'amd64-deb', '--bwlimit', '4M', ...files]);
    const exited = new Promise((r) => pusher.once('exit', r));
    await waitFor(() => partialBytes(orch, 'v2.0.1', 'amd64-deb') > MiB, 'the first file to be partly received');
    pusher.kill('SIGKILL');
    await exited;
    // The orchestrator notices the dropped connection and keeps the part.
    await waitFor(() => orch.proc!.logs().some((l) => /keeping the part/.test(l.msg)), 'the orchestrator to keep the partial file');
    const held = partialBytes(orch, 'v2.0.1', 'amd64-deb');
    expect(orch.incomingSnapshot().filter((p) => p.startsWith('v2.0.1/amd64-deb/killpush'))).toEqual([]);
    const again = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v2.0.1', '--target', 'amd64-deb', ...files]);
    expect(again.code).toBe(0);
    expect(parseLogs(again.stderr).find((l) => l.msg === 'resuming')).toMatchObject({ file: 'killpush_1.0_amd64.deb', offset: held });
    const landed = orch.proc!.logs().filter((l) => l.msg === 'file landed' && String(l.file).startsWith('killpush'));
    expect(landed.find((l) => l.file === 'killpush_1.0_amd64.deb')).toMatchObject({ resumedFrom: held, bytesReceived: 3 * MiB - held });
    for (const f of files) expect(sha256(join(orch.incomingDir('v2.0.1', 'amd64-deb'), f.split('/').pop()!))).toBe(sha256(f));
  });

  it('a partial left by other content under the same name fails the final hash check and is sent again from the start', async () => {
    const cred = await orch.credential('v2.0.2', 'amd64-deb');
    const [f] = makeFiles(work, 'stale', [2 * MiB]);
    // A pusher of other bytes under this name stops half-way: the orchestrator keeps its part.
    const peer = await rawPeer(cred, { protocols: [1, 2] });
    peer.sendJson({ type: 'push.offer', release: 'v2.0.2', target: 'amd64-deb', replace: false, files: [{ name: 'stale_1.0_amd64.deb', size: 2 * MiB }] });
    await peer.next('push.status');
    peer.sendJson({ type: 'file.begin', name: 'stale_1.0_amd64.deb', size: 2 * MiB, offset: 0 });
    peer.sendBinary(randomBytes(MiB));
    await waitFor(() => partialBytes(orch, 'v2.0.2', 'amd64-deb') === MiB, 'the other part to be held');
    peer.ws.terminate();
    await waitFor(() => orch.proc!.logs().some((l) => /keeping the part/.test(l.msg) && l.file === 'stale_1.0_amd64.deb'), 'the orchestrator to keep the part');
    const r = await runAgent('build-agent', ['push', '--credential', cred, '--release', 'v2.0.2', '--target', 'amd64-deb', f!]);
    expect(r.code).toBe(0);
    expect(parseLogs(r.stderr).find((l) => l.msg === 'resuming')).toMatchObject({ offset: MiB });
    expect(parseLogs(r.stderr).some((l) => l.level === 'warn' && /retrying/.test(l.msg) && /hash/.test(String(l.reason)))).toBe(true);
    expect(sha256(join(orch.incomingDir('v2.0.2', 'amd64-deb'), 'stale_1.0_amd64.deb'))).toBe(sha256(f!));
    expect(orch.proc!.logs().find((l) => l.msg === 'file landed' && l.file === 'stale_1.0_amd64.deb')).toMatchObject({ resumedFrom: 0, bytesReceived: 2 * MiB });
  });
});
