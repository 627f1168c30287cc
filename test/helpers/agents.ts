// Runs the agents as real processes, the way users run them. Mode (PKGFLEET_AGENT_MODE):
//   exe     dist/bin/<agent>-linux-x64, the standalone executable that ships
//   bundle  node_modules/.bin/node (Node 24) running dist/bundle/<agent>.cjs
//   source  Node 24 running a bundle esbuild makes from packages/*/src on the fly (.cache/agents/)
// Default: exe if it is at least as new as the sources, else bundle if it is, else source.
// `npm test` builds first, so CI runs what ships; a quick `npx vitest run` after editing a source
// file still tests that edit.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readdirSync, renameSync, statSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { AGENTS, bundleAgentSync, ROOT } from '../../scripts/lib/bundle.mjs';

export type AgentName = 'build-agent' | 'orchestrator-agent' | 'repo-agent';
export type AgentMode = 'exe' | 'bundle' | 'source';
export const AGENT_NAMES: readonly AgentName[] = AGENTS;

export const REPO_ROOT: string = ROOT;
/** Node 24, pinned by the `node` devDependency (never /usr/bin/node, which is 20). */
export const NODE24: string = path.join(ROOT, 'node_modules', '.bin', 'node');

/** Where `npm run build` puts the executable for `arch`. */
export function executablePath(agent: AgentName, arch: 'x64' | 'arm64' = 'x64'): string {
  return path.join(ROOT, 'dist', 'bin', `${agent}-linux-${arch}`);
}
export function bundlePath(agent: AgentName): string {
  return path.join(ROOT, 'dist', 'bundle', `${agent}.cjs`);
}

let newestSource: number | undefined;
/**
 * mtime of the newest input of the bundles: packages/<pkg>/src (tests excluded, they are not
 * bundled), the packages' package.json files, the root package.json and lock file, and the bundle
 * recipe. Computed once per process.
 */
export function newestSourceMtime(): number {
  if (newestSource !== undefined) return newestSource;
  let newest = 0;
  const seen = (file: string) => {
    try {
      newest = Math.max(newest, statSync(file).mtimeMs);
    } catch {
      // vanished while we looked (another engineer's rename): ignore
    }
  };
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (!/\.test\.ts$/.test(entry.name)) seen(p);
    }
  };
  for (const pkg of readdirSync(path.join(ROOT, 'packages'))) {
    const src = path.join(ROOT, 'packages', pkg, 'src');
    if (existsSync(src)) walk(src);
    seen(path.join(ROOT, 'packages', pkg, 'package.json'));
  }
  for (const f of ['package.json', 'package-lock.json', 'scripts/lib/bundle.mjs']) seen(path.join(ROOT, f));
  newestSource = newest;
  return newest;
}

function freshFile(file: string): boolean {
  try {
    return statSync(file).mtimeMs >= newestSourceMtime();
  } catch {
    return false;
  }
}

/** Bundle `agent` from source into .cache/agents/ unless a fresh one is there. Synchronous: esbuild is fast (a child Node runs it). */
function sourceBundle(agent: AgentName): string {
  const out = path.join(ROOT, '.cache', 'agents', `${agent}.cjs`);
  if (freshFile(out)) return out;
  mkdirSync(path.dirname(out), { recursive: true });
  // Parallel test workers may all get here: each writes its own file and renames it in place.
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    bundleAgentSync(agent, tmp);
  } catch (e) {
    throw new Error(`cannot bundle ${agent} from packages/${agent}/src/main.ts: ${(e as Error).message}`, { cause: e });
  }
  renameSync(tmp, out);
  return out;
}

function requireNode24(): string {
  if (!existsSync(NODE24)) throw new Error(`${NODE24} is missing: run npm ci (the node devDependency provides Node 24)`);
  return NODE24;
}

/** How to run `agent` in `mode`, without looking at the environment. */
export function resolveAgentCommand(agent: AgentName, mode: AgentMode): { file: string; args: string[] } {
  switch (mode) {
    case 'exe': {
      const exe = executablePath(agent);
      if (!existsSync(exe)) throw new Error(`${exe} is missing: run npm run build`);
      return { file: exe, args: [] };
    }
    case 'bundle': {
      const bundle = bundlePath(agent);
      if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`);
      return { file: requireNode24(), args: [bundle] };
    }
    case 'source':
      return { file: requireNode24(), args: [sourceBundle(agent)] };
  }
}

/** The mode in force for `agent`: PKGFLEET_AGENT_MODE, else the freshest build there is. */
export function agentMode(agent: AgentName): AgentMode {
  const forced = process.env.PKGFLEET_AGENT_MODE;
  if (forced) {
    if (forced !== 'exe' && forced !== 'bundle' && forced !== 'source') {
      throw new Error(`PKGFLEET_AGENT_MODE=${forced}: expected exe, bundle or source`);
    }
    return forced;
  }
  if (freshFile(executablePath(agent))) return 'exe';
  if (freshFile(bundlePath(agent))) return 'bundle';
  return 'source';
}

const resolved = new Map<AgentName, { file: string; args: string[] }>();
/** The program and leading arguments that run `agent`; resolved once per process. */
export function agentCommand(agent: AgentName): { file: string; args: string[] } {
  let cmd = resolved.get(agent);
  if (!cmd) {
    cmd = resolveAgentCommand(agent, agentMode(agent));
    resolved.set(agent, cmd);
  }
  return { file: cmd.file, args: [...cmd.args] };
}

export interface AgentRunOptions {
  /** Added to the test process's environment (set a key to undefined to remove it). */
  env?: NodeJS.ProcessEnv;
  /** Use exactly `env` instead of adding to the test's environment. */
  replaceEnv?: boolean;
  cwd?: string;
  /** Kill the process (SIGKILL) and reject after this long; default 60 s. */
  timeoutMs?: number;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string | Buffer;
}

export interface AgentResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function environment(opts: AgentRunOptions): NodeJS.ProcessEnv {
  const env = opts.replaceEnv ? { ...opts.env } : { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Start `agent` with `args` as a long-running process (stdout and stderr piped unless `stdio` says otherwise). */
export function spawnAgent(agent: AgentName, args: string[], opts: Omit<AgentRunOptions, 'timeoutMs' | 'input'> & { stdio?: StdioOptions } = {}): ChildProcess {
  const cmd = agentCommand(agent);
  return spawn(cmd.file, [...cmd.args, ...args], { cwd: opts.cwd, env: environment(opts), stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'] });
}

/** Run `agent` with `args` to completion. Resolves with its exit code and output whatever the code. */
export function runAgent(agent: AgentName, args: string[], opts: AgentRunOptions = {}): Promise<AgentResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawnAgent(agent, args, { ...opts, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${agent} ${args.join(' ')}: did not exit within ${timeoutMs} ms\nstderr: ${Buffer.concat(err).toString('utf8')}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${agent}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // the agent may exit without reading it all
      child.stdin!.end(opts.input);
    }
  });
}
