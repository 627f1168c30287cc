import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { REPO_ROOT, runAgent, spawnAgent } from '../helpers/agents';

const VERIFY_APT = resolve(REPO_ROOT, '..', 'shared', 'verify', 'verify-apt.sh');
import { buildDeb } from '../helpers/debs';
import { freePort, waitFor } from '../helpers/net';
import { parseLogs } from '../helpers/orchestrator';

/**
 * orchestrator-agent deploy → repo-agent serve --listen (real processes, TLS-PSK WebSocket):
 * only lacking content travels, signatures are checked against the repo server's own trusted key,
 * the web root swaps atomically, and the real apt accepts the result over the repo-agent's HTTP.
 */
describe('deploy to the repo server', () => {
  let work: string;
  let repoState: string;
  let orchState: string;
  let root: string;
  let cred: string;
  let key: string;
  let pub: string;
  let server: ChildProcess;
  let serverErr = '';
  let httpAddr = '';

  const orch = (...args: string[]) => runAgent('orchestrator-agent', ['--state-dir', orchState, ...args]);
  const publishDebs = async (k: string, dir: string, into = root) => {
    const r = await orch('repo', 'publish', '--root', into, '--channel', 'stable', '--key', k, dir);
    expect(r.code, r.stderr).toBe(0);
  };
  const deploy = async (from = root) => {
    const r = await orch('deploy', '--root', from, '--credential', cred);
    return { ...r, logs: parseLogs(r.stderr) };
  };
  const live = () => readlinkSync(join(repoState, 'current'));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pkgfleet-deploy-'));
    repoState = join(work, 'repo-server');
    orchState = join(work, 'orch');
    root = join(work, 'repo');
    key = join(work, 'signing.asc');
    pub = join(work, 'signing.pub.asc');
    expect((await orch('keys', 'generate', '--name', 'pkgfleet deploy test', '--email', 'deploy@example.com', '--out', key)).code).toBe(0);
    const exp = await orch('keys', 'export', '--key', key, '--armor');
    writeFileSync(pub, exp.stdout);
    const port = await freePort();
    expect((await runAgent('repo-agent', ['init', '--state-dir', repoState, '--trust-key', pub, '--listen', `127.0.0.1:${port}`])).code).toBe(0);
    cred = join(work, 'deploy.cred');
    const issued = await runAgent('repo-agent', ['credentials', 'issue', '--state-dir', repoState, '--out', cred]);
    expect(issued.code, issued.stderr).toBe(0);
    server = spawnAgent('repo-agent', ['serve', '--state-dir', repoState, '--http', '127.0.0.1:0']);
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (serverErr += d.toString()));
    await waitFor(() => out.includes('listening on'), 'repo-agent serve');
    await waitFor(() => parseLogs(serverErr).find((l) => l.msg === 'http listening on' || /http listening/.test(l.msg)), 'the http part');
    httpAddr = String(parseLogs(serverErr).find((l) => /http listening/.test(l.msg))!.msg.split(' on ')[1]);
    const debs = join(work, 'debs1');
    mkdirSync(debs);
    for (let i = 0; i < 5; i++) buildDeb(debs, { name: `pkg${i}`, version: '1.0-1', arch: i === 0 ? 'all' : 'amd64', payload: 20_000 });
    await publishDebs(key, debs);
  });
  afterAll(() => {
    server?.kill('SIGTERM');
    rmSync(work, { recursive: true, force: true });
  });

  it('deploys a published tree, makes it live, and apt accepts it over the repo-agent HTTP', async () => {
    const r = await deploy();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deployed snapshot \S+ to wss:\/\/127.0.0.1:\d+: \d+ files, \d+ sent .*; live \(was none\)/);
    const id = /deployed snapshot (\S+)/.exec(r.stdout)![1]!;
    expect(live()).toContain(id);
    const body = execFileSync('curl', ['-fsS', `http://${httpAddr}/apt/dists/stable/InRelease`]).toString();
    expect(body).toContain('-----BEGIN PGP SIGNED MESSAGE-----');
    const v = execFileSync('bash', [VERIFY_APT, `http://${httpAddr}/apt`, 'stable', 'main', pub, 'pkg1', 'amd64'], { env: { ...process.env, APT_INSTALL: 'none' }, encoding: 'utf8' });
    expect(v).toMatch(/pass|ok/i);
  });

  it('sends no file content when the same tree is deployed again', async () => {
    const r = await deploy();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: \d+ files, 0 sent \(0 B on the wire\)/);
  });

  it('sends only the new package and the metadata that changed', async () => {
    const debs = join(work, 'debs2');
    mkdirSync(debs);
    buildDeb(debs, { name: 'newpkg', version: '2.0-1', arch: 'amd64', payload: 50_000 });
    await publishDebs(key, debs);
    const r = await deploy();
    expect(r.code, r.stderr).toBe(0);
    const lacking = r.logs.find((l) => l.msg === 'repo server lacks')!;
    const serverLog = parseLogs(serverErr).filter((l) => l.msg === 'deploy offered').at(-1)!;
    expect(serverLog.lacking).toBe(lacking.files);
    // One .deb plus the indexes, Release files and by-hash copies that changed: no other package.
    const sent = parseLogs(serverErr).filter((l) => /deployed and live/.test(l.msg)).at(-1)!;
    expect(Number(sent.filesReceived)).toBeLessThan(30);
    expect(Number(sent.filesLinked)).toBeGreaterThanOrEqual(5);
    expect(Number(lacking.bytes)).toBeLessThan(50_000 + 40_000);
    expect(Number(lacking.bytes)).toBeGreaterThan(50_000);
  });

  it('refuses a tree signed by another key and leaves the live snapshot alone', async () => {
    const other = join(work, 'other.asc');
    expect((await orch('keys', 'generate', '--name', 'intruder', '--email', 'x@example.com', '--out', other)).code).toBe(0);
    const otherRoot = join(work, 'other-repo');
    const debs = join(work, 'debs3');
    mkdirSync(debs);
    buildDeb(debs, { name: 'evil', version: '1.0', arch: 'amd64' });
    await publishDebs(other, debs, otherRoot);
    const wasLive = live();
    const r = await deploy(otherRoot);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signature|InRelease/);
    expect(live()).toBe(wasLive);
    const after = await deploy();
    expect(after.code, after.stderr).toBe(0);
  });

  it('refuses a build credential and says so, and names an unreachable repo server, leaving the live snapshot alone', async () => {
    const wasLive = live();
    const orchInit = await orch('init', '--listen', `127.0.0.1:${await freePort()}`);
    expect(orchInit.code, orchInit.stderr).toBe(0);
    const buildCred = join(work, 'build.cred');
    expect((await orch('credentials', 'issue', '--release', 'v1.0.0', '--target', 'amd64-deb', '--out', buildCred)).code).toBe(0);
    const wrong = await orch('deploy', '--root', root, '--credential', buildCred);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/is a build credential/);
    const dead = join(work, 'dead.cred');
    writeFileSync(dead, JSON.stringify({ ...JSON.parse(readFileSync(cred, 'utf8')), url: 'wss://127.0.0.1:1' }), { mode: 0o600 });
    const down = await orch('deploy', '--root', root, '--credential', dead);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach wss:\/\/127.0.0.1:1: connection refused/);
    expect(live()).toBe(wasLive);
  });

  it('rolls back in one step and apt still accepts the repository', async () => {
    const r = await runAgent('repo-agent', ['rollback', '--state-dir', repoState]);
    expect(r.code, r.stderr).toBe(0);
    const v = execFileSync('bash', [VERIFY_APT, `http://${httpAddr}/apt`, 'stable', 'main', pub, 'pkg1', 'amd64'], { env: { ...process.env, APT_INSTALL: 'none' }, encoding: 'utf8' });
    expect(v).toMatch(/pass|ok/i);
    expect(readFileSync(join(repoState, 'current', 'apt', 'dists', 'stable', 'InRelease'), 'utf8')).toContain('SIGNED MESSAGE');
  });
});
