// The standalone executables that `npm run build` makes (dist/bin), run the way a droplet runs
// them: no Node installed, x64 natively and arm64 under qemu-user.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from '@pkgfleet/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram as buildAgentProgram } from '../../packages/build-agent/src/cli';
import { buildProgram as orchestratorProgram } from '../../packages/orchestrator-agent/src/cli';
import { buildProgram as repoAgentProgram } from '../../packages/repo-agent/src/cli';
import { AGENT_NAMES, REPO_ROOT, executablePath, resolveAgentCommand, type AgentMode, type AgentName } from '../helpers/agents';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const PROGRAMS: Record<AgentName, () => Command> = {
  'build-agent': buildAgentProgram,
  'orchestrator-agent': orchestratorProgram,
  'repo-agent': repoAgentProgram,
};
// ELF e_machine values (System V ABI): what the kernel (or qemu) will run the file as.
const EM_X86_64 = 0x3e;
const EM_AARCH64 = 0xb7;
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu'; // libc6-arm64-cross, libstdc++6-arm64-cross

function built(file: string): string {
  if (!existsSync(file)) throw new Error(`${path.relative(REPO_ROOT, file)} is missing: run npm run build`);
  return file;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')}: no exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function sha256Stream(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    stream.on('data', (b: Buffer) => hash.update(b));
    stream.on('error', reject);
    stream.on('end', () => resolve(hash.digest('hex')));
  });
}

async function elfMachine(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const { buffer } = await fh.read(Buffer.alloc(20), 0, 20, 0);
    expect(buffer.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(buffer[4], 'ELFCLASS64').toBe(2);
    return buffer.readUInt16LE(18);
  } finally {
    await fh.close();
  }
}

let work: string;
let tools: string; // the only PATH the executables get: a shell and a few tools, no node
let isolated: (file: string, args: string[]) => Promise<Result>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pkgfleet-exe-'));
  tools = path.join(work, 'bin');
  await mkdir(tools);
  for (const t of ['sh', 'cat', 'ls', 'env']) await symlink(`/bin/${t}`, path.join(tools, t));
  const home = path.join(work, 'home');
  await mkdir(home);
  isolated = (file, args) => run('/usr/bin/env', ['-i', `PATH=${tools}`, `HOME=${home}`, file, ...args]);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('x64 executables, with no Node on the machine', () => {
  it('the isolated environment really has no node', async () => {
    const r = await isolated('/bin/sh', ['-c', 'command -v node || exit 3']);
    expect(r.code).toBe(3);
  });

  describe.each(AGENT_NAMES)('%s', (agent) => {
    const exe = () => built(executablePath(agent, 'x64'));

    it('is an x86-64 ELF executable', async () => {
      expect(await elfMachine(exe())).toBe(EM_X86_64);
    });

    it('--version prints the release version', async () => {
      const r = await isolated(exe(), ['--version']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    });

    it('--help names the agent, its global options and every command', async () => {
      const r = await isolated(exe(), ['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: ${agent} [options]`);
      for (const flag of ['--config', '--log-format', '--state-dir', '--version']) expect(r.stdout).toContain(flag);
      const program = PROGRAMS[agent]();
      for (const cmd of program.createHelp().visibleCommands(program)) {
        expect(r.stdout, `command "${cmd.name()}" missing from ${agent} --help; if it is new, run npm run build`).toMatch(new RegExp(`^  ${cmd.name()}\\b`, 'm'));
      }
    });

    it('starts from the code cache trained at build time (V8 takes it)', async () => {
      const r = await run('/usr/bin/env', ['-i', `PATH=${tools}`, 'PKGFLEET_CODE_CACHE_REPORT=1', exe(), '--version']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('code cache: accepted\n');
      // V8 flags the cache was not made with: V8 refuses it, and the agent still runs (compiling as it goes)
      const other = await run('/usr/bin/env', ['-i', `PATH=${tools}`, 'PKGFLEET_CODE_CACHE_REPORT=1', 'NODE_OPTIONS=--jitless', exe(), '--version']);
      expect([other.code, other.stderr, other.stdout.trim()]).toEqual([0, 'code cache: rejected\n', VERSION]);
    });

    it('exits 2 on bad usage, with the reason on stderr', async () => {
      const r = await isolated(exe(), ['--no-such-option']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown option '--no-such-option'/);
      expect(r.stdout).toBe('');
      if (PROGRAMS[agent]().commands.length > 0) {
        const c = await isolated(exe(), ['no-such-command']);
        expect(c.code).toBe(2);
        expect(c.stderr).toMatch(/unknown command 'no-such-command'/);
      }
    });
  });

  it('openpgp works inside the orchestrator executable: a generated key carries a self-signature gpg verifies', async () => {
    const exe = built(executablePath('orchestrator-agent', 'x64'));
    const dir = path.join(work, 'keys');
    await mkdir(dir, { mode: 0o700 });
    const key = path.join(dir, 'signing.asc');
    const gen = await isolated(exe, ['keys', 'generate', '--name', 'Exe Test', '--email', 'exe@example.invalid', '--out', key]);
    expect(gen.stderr).not.toMatch(/error/i);
    expect(gen.code).toBe(0);
    const exp = await isolated(exe, ['keys', 'export', '--key', key, '--armor']);
    expect(exp.code).toBe(0);
    expect(exp.stdout).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    expect(await readFile(key, 'utf8')).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);

    const home = path.join(work, 'gnupg');
    await mkdir(home, { mode: 0o700 });
    const pub = path.join(dir, 'pub.asc');
    await writeFile(pub, exp.stdout);
    const imp = await run('gpg', ['--batch', '--homedir', home, '--import', pub]);
    expect(imp.code, imp.stderr).toBe(0);
    const sigs = await run('gpg', ['--batch', '--homedir', home, '--with-colons', '--check-sigs']);
    expect(sigs.code, sigs.stderr).toBe(0);
    // pub line: field 4 is the algorithm (22 = EdDSA); a sig line with "!" in field 2 is a good signature.
    expect(sigs.stdout).toMatch(/^pub:[^:]*:\d+:22:/m);
    expect(sigs.stdout).toMatch(/^uid:.*Exe Test <exe@example\.invalid>/m);
    expect(sigs.stdout).toMatch(/^sig:!:/m);
  });
});

describe('arm64 executables', () => {
  describe.each(AGENT_NAMES)('%s', (agent) => {
    const exe = () => built(executablePath(agent, 'arm64'));

    it('is an AArch64 ELF executable', async () => {
      expect(await elfMachine(exe())).toBe(EM_AARCH64);
    });

    it('prints the release version under qemu-aarch64, with no Node on the machine', async () => {
      const qemu = built('/usr/bin/qemu-aarch64'); // Debian qemu-user
      const r = await isolated(qemu, ['-L', ARM64_SYSROOT, exe(), '--version']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    });

    it('runs without a code cache (one made by the x64 binary would not fit)', async () => {
      const r = await run('/usr/bin/env', ['-i', `PATH=${tools}`, 'PKGFLEET_CODE_CACHE_REPORT=1', '/usr/bin/qemu-aarch64', '-L', ARM64_SYSROOT, exe(), '--help']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('code cache: none\n');
      expect(r.stdout).toContain(`Usage: ${agent} [options]`);
    });
  });
});

describe('.xz downloads', () => {
  const files = AGENT_NAMES.flatMap((agent) => (['x64', 'arm64'] as const).map((arch) => executablePath(agent, arch)));
  it.each(files.map((f) => [path.basename(f), f]))('%s.xz decompresses to the same bytes', async (_name, file) => {
    const exeHash = sha256Stream(createReadStream(built(file)));
    const xz = spawn('xz', ['-dc', built(`${file}.xz`)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => xz.on('close', resolve));
    const xzHash = await sha256Stream(xz.stdout);
    expect(await exited).toBe(0);
    expect(xzHash).toBe(await exeHash);
  });
});

describe('test harness (test/helpers/agents.ts)', () => {
  it.each(['exe', 'bundle', 'source'] as AgentMode[])('mode %s runs the agent', async (mode) => {
    const cmd = resolveAgentCommand('repo-agent', mode);
    // The bundle modes run Node 24 from node_modules, never the system's node.
    if (mode !== 'exe') expect(cmd.file).toBe(path.join(REPO_ROOT, 'node_modules', '.bin', 'node'));
    const r = await run(cmd.file, [...cmd.args, '--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });
});
