import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TimeoutError, writeFileAtomic, type Logger } from '@pkgfleet/shared';
import type { CreateRequest, CreateResult, Machine, Provider } from './provider';

/**
 * The embedded default: a "machine" is a directory under <state>/local-machines/<release>/<target>/
 * with its credential, config and log, and a `build-agent serve` process started from it. It is
 * found again by its directory, so create is idempotent and delete/reap work across runs.
 */
export interface LocalProviderOptions {
  dir: string;
  /** argv that runs build-agent (its executable, or Node + bundle in development). */
  buildAgent: string[];
  logger: Logger;
  now?: () => Date;
}

interface LocalRecord {
  release: string;
  target: string;
  pid: number;
  createdAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The build-agent beside this orchestrator-agent: same executable family, or same bundle dir. */
export function siblingBuildAgent(execPath = process.execPath, script = process.argv[1]): string[] {
  const exe = basename(execPath);
  if (exe.startsWith('orchestrator-agent')) return [join(dirname(execPath), exe.replace('orchestrator-agent', 'build-agent'))];
  if (script && basename(script).startsWith('orchestrator-agent')) return [execPath, join(dirname(script), basename(script).replace('orchestrator-agent', 'build-agent'))];
  return ['build-agent'];
}

export class LocalProvider implements Provider {
  readonly name = 'local' as const;
  constructor(private readonly o: LocalProviderOptions) {}

  private machineDir(release: string, target: string): string {
    return join(this.o.dir, release, target);
  }

  private async read(release: string, target: string): Promise<Machine | undefined> {
    try {
      const rec = JSON.parse(await readFile(join(this.machineDir(release, target), 'machine.json'), 'utf8')) as LocalRecord;
      const running = alive(rec.pid);
      return { id: `${release}/${target}`, name: `local-${release}-${target}`, release, target, status: running ? 'running' : 'exited', ready: running, createdAt: new Date(rec.createdAt), privateAddress: '127.0.0.1', fleet: true };
    } catch {
      return undefined;
    }
  }

  async create(req: CreateRequest): Promise<CreateResult> {
    const machines: Machine[] = [];
    const reused: string[] = [];
    for (const target of req.targets) {
      const existing = await this.read(req.release, target);
      if (existing?.ready) {
        machines.push(existing);
        reused.push(target);
        continue;
      }
      const dir = this.machineDir(req.release, target);
      await mkdir(dir, { recursive: true, mode: 0o750 });
      const credential = join(dir, 'credential.json');
      if (!existing || !existsSync(credential)) await writeFileAtomic(credential, (await req.bootstrap(target)).credential, { mode: 0o600 });
      const log = openSync(join(dir, 'agent.log'), 'a');
      const [cmd, ...args] = this.o.buildAgent;
      const child = spawn(cmd!, [...args, 'serve', '--credential', credential, '--state-dir', dir, '--log-format', 'json'], { cwd: dir, detached: true, stdio: ['ignore', log, log] });
      closeSync(log);
      child.unref();
      if (!child.pid) throw new Error(`could not start ${cmd} for ${req.release}/${target}`);
      const rec: LocalRecord = { release: req.release, target, pid: child.pid, createdAt: (this.o.now?.() ?? new Date()).toISOString() };
      await writeFileAtomic(join(dir, 'machine.json'), JSON.stringify(rec, null, 2) + '\n');
      this.o.logger.info('started local build machine', { release: req.release, target, pid: child.pid, dir });
      machines.push((await this.read(req.release, target))!);
    }
    return { machines, reused };
  }

  async waitReady(release: string, targets: string[], deadline: number): Promise<Machine[]> {
    for (;;) {
      const list = await Promise.all(targets.map((t) => this.read(release, t)));
      if (list.every((m) => m?.ready)) return list as Machine[];
      if (Date.now() > deadline) {
        const late = targets.filter((_, i) => !list[i]?.ready);
        throw new TimeoutError('E_MACHINES_NOT_READY', `local build machines of ${release} not running: ${late.join(', ')}`, `see ${join(this.o.dir, release, '<target>', 'agent.log')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async list(filter: { release?: string } = {}): Promise<Machine[]> {
    const releases = filter.release ? [filter.release] : await readdir(this.o.dir).catch(() => [] as string[]);
    const out: Machine[] = [];
    for (const r of releases) {
      for (const t of await readdir(join(this.o.dir, r)).catch(() => [] as string[])) {
        const m = await this.read(r, t);
        if (m) out.push(m);
      }
    }
    return out;
  }

  async deleteMachine(id: string): Promise<boolean> {
    const [release, target] = id.split('/');
    if (!release || !target) return false;
    const dir = this.machineDir(release, target);
    if (!existsSync(dir)) return false;
    try {
      const rec = JSON.parse(await readFile(join(dir, 'machine.json'), 'utf8')) as LocalRecord;
      if (alive(rec.pid)) {
        process.kill(rec.pid, 'SIGTERM');
        const until = Date.now() + 5000;
        while (alive(rec.pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        if (alive(rec.pid)) process.kill(rec.pid, 'SIGKILL');
      }
    } catch {
      /* no record: just remove the directory */
    }
    await rm(dir, { recursive: true, force: true });
    this.o.logger.info('deleted local build machine', { release, target });
    return true;
  }

  async deleteRelease(release: string): Promise<number> {
    let n = 0;
    for (const m of await this.list({ release })) if (await this.deleteMachine(m.id)) n++;
    await rm(join(this.o.dir, release), { recursive: true, force: true });
    return n;
  }

  async deleteAll(): Promise<number> {
    let n = 0;
    for (const m of await this.list()) if (await this.deleteMachine(m.id)) n++;
    return n;
  }
}
