import { mkdtempSync, rmSync, readFileSync, readdirSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { runAgent, spawnAgent } from './agents';
import { freePort, waitFor } from './net';

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export function parseLogs(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** A running `orchestrator-agent serve` process with its stderr (JSON logs) captured. */
export interface ServeProcess {
  child: ChildProcess;
  stderr: () => string;
  logs: () => LogLine[];
  exited: Promise<number | null>;
}

/**
 * An orchestrator in a temp state dir on a free 127.0.0.1 port, as a real process.
 * `start()` can be called again after a kill: same dir, same port.
 */
export class TestOrchestrator {
  readonly dir = mkdtempSync(join(tmpdir(), 'pkgfleet-orch-'));
  readonly stateDir: string;
  port = 0;
  proc: ServeProcess | undefined;
  private runs: ServeProcess[] = [];

  constructor(stateDir?: string) {
    this.stateDir = stateDir ?? join(this.dir, 'state');
  }

  async init(extraConfig: Record<string, unknown> = {}): Promise<void> {
    this.port = await freePort();
    const r = await runAgent('orchestrator-agent', ['init', '--state-dir', this.stateDir, '--listen', `127.0.0.1:${this.port}`]);
    if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
    if (Object.keys(extraConfig).length) {
      const path = join(this.stateDir, 'orchestrator-agent.json');
      const cfg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      writeFileSync(path, JSON.stringify({ ...cfg, ...extraConfig }, null, 2));
    }
  }

  async start(): Promise<ServeProcess> {
    const child = spawnAgent('orchestrator-agent', ['serve', '--state-dir', this.stateDir, '--log-format', 'json']);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const proc: ServeProcess = { child, stderr: () => err, logs: () => parseLogs(err), exited };
    await Promise.race([
      waitFor(() => out.includes('listening on'), 'orchestrator-agent serve to print "listening on"'),
      exited.then((code) => {
        throw new Error(`orchestrator-agent serve exited ${code}: ${err}`);
      }),
    ]);
    this.proc = proc;
    this.runs.push(proc);
    return proc;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.child.kill(signal);
    await p.exited;
    this.proc = undefined;
  }

  async credential(release: string, target: string, ttl = '6h'): Promise<string> {
    const out = join(this.dir, `cred-${release}-${target}-${Math.random().toString(36).slice(2)}.json`);
    const r = await runAgent('orchestrator-agent', ['credentials', 'issue', '--state-dir', this.stateDir, '--release', release, '--target', target, '--ttl', ttl, '--out', out]);
    if (r.code !== 0) throw new Error(`credentials issue failed: ${r.stderr}`);
    return out;
  }

  incomingDir(release: string, target: string): string {
    return join(this.stateDir, 'incoming', release, target);
  }

  /** Every file under incoming/, partials included, as relative paths with sizes. */
  incomingSnapshot(): string[] {
    const root = join(this.stateDir, 'incoming');
    const out: string[] = [];
    const walk = (d: string, rel: string) => {
      if (!existsSync(d)) return;
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        const st = statSync(p);
        if (st.isDirectory()) walk(p, `${rel}${n}/`);
        else out.push(`${rel}${n}:${st.size}`);
      }
    };
    walk(root, '');
    return out.sort();
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    for (const r of this.runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
