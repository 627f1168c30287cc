import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile as execFileCb } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, runAgent } from '../helpers/agents';
import { buildDeb } from '../helpers/debs';
import { rpmbuild } from '../helpers/rpms';
import { startNginx, type Nginx } from '../helpers/nginx';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';

/**
 * The real apt and dnf (verify-apt.sh, verify-dnf.sh) against a repository published by
 * `orchestrator-agent repo publish`, deployed into the repo-agent, served both by
 * `repo-agent serve --http` and by nginx with deploy/nginx/pkgfleet.conf: after a deploy and
 * after a rollback.
 */
const execFile = promisify(execFileCb);
const VERIFY = resolve(REPO_ROOT, '..', 'shared', 'verify');

let fx: RepoAgentFixture;
let nginx: Nginx;
let agentUrl: string;
let stopAgent: () => Promise<void>;
let pub: string;

async function verify(script: 'verify-apt.sh' | 'verify-dnf.sh', args: string[]): Promise<string> {
  try {
    const r = await execFile(join(VERIFY, script), args, { env: { ...process.env, APT_INSTALL: 'none', DNF_INSTALL: 'none' }, maxBuffer: 64 << 20, timeout: 300_000 });
    return r.stdout + r.stderr;
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    throw new Error(`${script} ${args.join(" ")} exited ${e.code}:\n${e.stdout}${e.stderr}`, { cause: err });
  }
}

async function bothServersPass(debPkg: string, rpmPkg: string): Promise<void> {
  for (const base of [agentUrl, nginx.url]) {
    expect(await verify('verify-apt.sh', [`${base}/apt`, 'stable', 'main', pub, debPkg, 'amd64'])).toMatch(/RESULT: PASS/);
    expect(await verify('verify-dnf.sh', [`${base}/rpm/stable/x86_64`, pub, rpmPkg, 'x86_64'])).toMatch(/RESULT: PASS/);
  }
}

beforeAll(async () => {
  fx = await repoAgentFixture();
  const orchState = join(fx.dir, 'orch');
  const orch = async (...args: string[]) => {
    const r = await runAgent('orchestrator-agent', ['--state-dir', orchState, ...args], { timeoutMs: 120_000, env: { PKGFLEET_CONFIG: undefined } });
    if (r.code !== 0) throw new Error(`orchestrator-agent ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const key = join(fx.dir, 'signing.asc');
  pub = join(fx.dir, 'signing.pub.asc');
  await orch('keys', 'generate', '--name', 'pkgfleet repo clients test', '--email', 'clients@example.com', '--out', key);
  await writeFile(pub, await orch('keys', 'export', '--key', key, '--armor'));
  await fx.ok(['init', '--trust-key', pub]);

  const root = join(fx.dir, 'published');
  const release = async (n: number) => {
    const dir = join(fx.dir, `in-${n}`);
    await mkdir(dir);
    buildDeb(dir, { name: `clients-deb${n}`, version: `${n}.0-1`, arch: 'amd64', payload: 10_000 });
    await rpmbuild(dir, { name: `clients-rpm${n}`, version: `${n}.0`, release: '1', arch: 'noarch' });
    await orch('repo', 'publish', '--root', root, '--channel', 'stable', '--key', key, dir);
    await fx.ok(['import', '--from', root]);
  };
  await release(1);
  await release(2);

  ({ url: agentUrl, stop: stopAgent } = await fx.serve());
  const prefix = join(fx.dir, 'nginx');
  await mkdir(prefix);
  nginx = await startNginx(prefix, join(fx.stateDir, 'current'));
}, 300_000);

afterAll(async () => {
  await nginx?.stop();
  await stopAgent?.();
  await fx?.cleanup();
});

describe('apt and dnf against the repo server', () => {
  it('pass against repo-agent serve --http and nginx after a deploy', async () => {
    await bothServersPass('clients-deb2', 'clients-rpm2');
  }, 600_000);

  it('pass against both after a rollback, which serves the earlier release', async () => {
    await fx.ok(['rollback']);
    await bothServersPass('clients-deb1', 'clients-rpm1');
    // The rolled-back tree does not offer the later packages.
    await expect(verify('verify-apt.sh', [`${agentUrl}/apt`, 'stable', 'main', pub, 'clients-deb2', 'amd64'])).rejects.toThrow(/exited 1/);
  }, 600_000);
});
