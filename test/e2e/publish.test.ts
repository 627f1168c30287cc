import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { runAgent, spawnAgent } from '../helpers/agents';
import { buildDeb } from '../helpers/debs';
import { freePort, waitFor } from '../helpers/net';
import { TestOrchestrator } from '../helpers/orchestrator';

/** `orchestrator-agent publish`: waits for the expected targets, publishes what they pushed, deploys. */
describe('orchestrator-agent publish', () => {
  let work: string;
  let orch: TestOrchestrator;
  let repoState: string;
  let repoServe: ChildProcess;
  const live = () => (existsSync(join(repoState, 'current')) ? readlinkSync(join(repoState, 'current')) : undefined);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pkgfleet-publish-'));
    const key = join(work, 'signing.asc');
    const pub = join(work, 'pub.asc');
    expect((await runAgent('orchestrator-agent', ['--state-dir', work, 'keys', 'generate', '--name', 'publish test', '--email', 'p@example.com', '--out', key])).code).toBe(0);
    writeFileSync(pub, (await runAgent('orchestrator-agent', ['keys', 'export', '--key', key, '--armor'])).stdout);
    repoState = join(work, 'repo-server');
    expect((await runAgent('repo-agent', ['init', '--state-dir', repoState, '--trust-key', pub, '--listen', `127.0.0.1:${await freePort()}`])).code).toBe(0);
    const cred = join(work, 'deploy.cred');
    expect((await runAgent('repo-agent', ['credentials', 'issue', '--state-dir', repoState, '--out', cred])).code).toBe(0);
    repoServe = spawnAgent('repo-agent', ['serve', '--state-dir', repoState]);
    let out = '';
    repoServe.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('listening on'), 'repo-agent serve');
    orch = new TestOrchestrator();
    await orch.init({ repoKey: key, deployCredential: cred });
    await orch.start();
    const debs = join(work, 'debs');
    mkdirSync(debs);
    const files = [buildDeb(debs, { name: 'alpha', version: '1.0-1', arch: 'amd64' }), buildDeb(debs, { name: 'beta', version: '2.0-1', arch: 'all' })];
    const pcred = await orch.credential('v7.0.0', 'amd64-deb');
    expect((await runAgent('build-agent', ['push', '--credential', pcred, '--release', 'v7.0.0', '--target', 'amd64-deb', ...files])).code).toBe(0);
  });
  afterAll(async () => {
    repoServe?.kill('SIGTERM');
    await orch.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const publish = (...args: string[]) => runAgent('orchestrator-agent', ['publish', '--state-dir', orch.stateDir, '--release', 'v7.0.0', '--channel', 'stable', ...args]);

  it('says which targets never delivered when the wait times out', async () => {
    const r = await publish('--expect', 'amd64-deb,arm64-deb', '--timeout', '2s');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/release v7.0.0: no complete artifacts from arm64-deb after 2 s \(arrived: amd64-deb \(2 files\)\)/);
    expect(live()).toBeUndefined();
  });

  it('--dry-run verifies the result on the repo server but changes nothing', async () => {
    const r = await publish('--expect', 'amd64-deb', '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/would publish apt: 2 package\(s\), \+2 -0/);
    expect(r.stdout).toMatch(/verified on the repo server, not activated/);
    expect(r.stdout).toMatch(/dry run complete, nothing changed/);
    expect(live()).toBeUndefined();
    expect(existsSync(join(orch.stateDir, 'repo', 'current'))).toBe(false);
  });

  it('publishes what arrived, deploys it and makes it live', async () => {
    const r = await publish('--expect', 'amd64-deb');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/published apt: 2 package\(s\), \+2 -0/);
    expect(r.stdout).toMatch(/deployed: snapshot \S+/);
    expect(live()).toBeDefined();
    const packages = readFileSync(join(repoState, 'current', 'apt', 'dists', 'stable', 'main', 'binary-amd64', 'Packages'), 'utf8');
    expect(packages).toMatch(/Package: alpha/);
    expect(packages).toMatch(/Package: beta/);
  });
});
