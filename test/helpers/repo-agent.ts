import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { runAgent, spawnAgent, type AgentResult } from './agents';
import { makeTestKey, writeSignedTree, type TestKey, type TreeOptions } from './signed-repo';

/**
 * A repo-agent with its own state dir and trusted key, driven through the real CLI. Each test
 * makes its own (own temp dir, random ports) and calls cleanup() at the end.
 */
export interface RepoAgentFixture {
  dir: string;
  stateDir: string;
  key: TestKey;
  keyFile: string;
  /** Run `repo-agent ARGS --state-dir STATE`. */
  run(args: string[], timeoutMs?: number): Promise<AgentResult>;
  /** Like run, but throws with stderr unless the exit code is 0. */
  ok(args: string[], timeoutMs?: number): Promise<string>;
  /** Write a signed tree into a new directory under dir. */
  tree(opts?: TreeOptions, signer?: TestKey['signer']): Promise<string>;
  /** `repo-agent serve --http 127.0.0.1:0`: resolves once it prints its address. */
  serve(extra?: string[]): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }>;
  cleanup(): Promise<void>;
}

let trees = 0;

export async function repoAgentFixture(): Promise<RepoAgentFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'pkgfleet-repo-agent-'));
  const stateDir = join(dir, 'state');
  const key = await makeTestKey('repo-agent test');
  const keyFile = join(dir, 'trusted.asc');
  await writeFile(keyFile, key.publicKeyArmored);
  const children: ChildProcess[] = [];
  const run = (args: string[], timeoutMs = 60_000) => runAgent('repo-agent', [...args, '--state-dir', stateDir], { timeoutMs, env: { PKGFLEET_CONFIG: undefined } });
  const fx: RepoAgentFixture = {
    dir,
    stateDir,
    key,
    keyFile,
    run,
    async ok(args, timeoutMs) {
      const r = await run(args, timeoutMs);
      if (r.code !== 0) throw new Error(`repo-agent ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return r.stdout;
    },
    async tree(opts = {}, signer = key.signer) {
      const d = join(dir, `tree-${trees++}`);
      await writeSignedTree(d, signer, opts);
      return d;
    },
    async serve(extra = []) {
      const child = spawnAgent('repo-agent', ['serve', '--http', '127.0.0.1:0', '--state-dir', stateDir, '--log-format', 'json', ...extra], { env: { PKGFLEET_CONFIG: undefined } });
      children.push(child);
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const onData = (b: Buffer) => {
          out += b.toString();
          const m = /^listening on (\S+)\n/.exec(out);
          if (m) {
            child.stdout!.off('data', onData);
            resolve(`http://${m[1]}`);
          }
        };
        child.stdout!.on('data', onData);
        child.once('exit', (code) => reject(new Error(`repo-agent serve exited ${code} before listening:\n${err}`)));
      });
      const stop = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      };
      return { child, url, stop };
    },
    async cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fx;
}
