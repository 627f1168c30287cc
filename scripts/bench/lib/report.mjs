// Shared by the benchmarks: write one section of docs/BENCHMARKS.md between markers, so each
// benchmark replaces only its own results, and time/measure commands the same way.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';

export const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);
const DOC = path.join(ROOT, 'docs', 'BENCHMARKS.md');

const HEADER = `# Benchmarks

\`npm run bench\` runs every benchmark in \`scripts/bench/\` (or \`npm run bench -- NAME\` one of them) and
rewrites its section below. Every figure was measured in the same run as the classic tool it is
compared with, on the machine named in the section. Targets come from the issues.
`;

/** Replace (or append) the section `name` of docs/BENCHMARKS.md with `markdown`. */
export function writeSection(name, markdown) {
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : HEADER;
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : doc.trimEnd() + '\n\n' + block + '\n';
  writeFileSync(DOC, doc);
}

/** One line describing the machine, for the top of a section. */
export function machineLine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.versions.node}`;
}

/** The middle value of `xs` (the upper one of the two middle values for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Run a command, return wall seconds, exit code, output, and peak RSS (KiB) from GNU time.
 * `command` is an argv array; it runs under /usr/bin/time -f '%M' so the RSS is the command's own.
 */
export function timed(command, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '__RSS__%M', ...command], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const m = /__RSS__(\d+)/.exec(stderr);
      const rssKiB = m ? Number(m[1]) : undefined;
      stderr = stderr.replace(/__RSS__\d+\n?/, '');
      if (code !== 0 && !opts.allowFail) reject(new Error(`${command.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ seconds, code, stdout, stderr, rssKiB });
    });
  });
}

/** Peak RSS (KiB) of a running process, from /proc. */
export function peakRssOf(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export const fmtS = (s) => `${s.toFixed(2)} s`;
export const fmtMBs = (bytes, s) => `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s`;
export const fmtMiB = (kib) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);

/** How to run an agent in benchmarks: the shipped x64 executable if built, else the bundle. */
export function agentArgv(agent) {
  const exe = path.join(ROOT, 'dist', 'bin', `${agent}-linux-x64`);
  if (existsSync(exe)) return [exe];
  const bundle = path.join(ROOT, 'dist', 'bundle', `${agent}.cjs`);
  if (existsSync(bundle)) return [process.execPath, bundle];
  throw new Error(`no ${agent} build: run npm run build first`);
}
