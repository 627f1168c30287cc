// V8 code caches for the x64 executables. Each agent's common commands run on its bundle under
// the very node binary the executable is made of (train-run.cjs), on small inputs made here
// (train-inputs.ts); V8 then writes the bytecode of every function they ran. The executable's
// main script (sea-main.cjs) compiles the bundle with that cache, so a command no longer compiles
// what it runs: `repo publish` adding one rpm to 1000 went from ~0.15 to ~0.12 s.
// A cache is specific to the V8 version and flags of the binary that made it: arm64 executables
// get none (making one would need the arm64 binary to run here).
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './bundle.mjs';
import { SEA_EXEC_ARGV } from './sea.mjs';
import { run, StepError } from './util.mjs';

export const TRAINING_SCRIPTS = ['lib/train.mjs', 'lib/train-run.cjs', 'lib/train-inputs.ts'];

/** The commands each agent's cache is trained on; `w` is the training workspace, `i` the inputs. */
function plan(agent, w, i) {
  const cfg = ['--log-format', 'json'];
  switch (agent) {
    case 'orchestrator-agent':
      return [
        ['--help'],
        ['repo', 'publish', '--help'],
        ['keys', 'generate', '--name', 'train', '--email', 'train@example.invalid', '--out', path.join(w, 'key.asc'), ...cfg],
        ['keys', 'export', '--key', i.key, '--armor'],
        ['init', '--state-dir', path.join(w, 'state'), '--listen', '127.0.0.1:0', ...cfg],
        ['credentials', 'issue', '--state-dir', path.join(w, 'state'), '--release', 'v1.0.0', '--target', 'amd64-deb', '--ttl', '1h', '--out', path.join(w, 'build.credential'), ...cfg],
        ['artifacts', 'list', '--state-dir', path.join(w, 'state'), '--json'],
        // a cold publish, then two that add one package each (the second builds over a retired tree)
        ...i.batches.map((b) => ['repo', 'publish', '--root', path.join(w, 'repo'), '--channel', 'stable', '--key', i.key, ...cfg, b]),
      ].map((argv) => ({ argv }));
    case 'repo-agent':
      return [
        ['--help'],
        ['init', '--state-dir', path.join(w, 'state'), '--trust-key', i.publicKey, ...cfg],
        ['credentials', 'issue', '--state-dir', path.join(w, 'state'), '--out', path.join(w, 'deploy.credential'), ...cfg],
        ['import', '--state-dir', path.join(w, 'state'), '--from', i.repo, ...cfg],
        ['import', '--state-dir', path.join(w, 'state'), '--from', i.repo, ...cfg],
        ['list', '--state-dir', path.join(w, 'state'), '--json'],
        ['verify', '--state-dir', path.join(w, 'state'), '--json'],
        ['gc', '--state-dir', path.join(w, 'state'), ...cfg],
      ].map((argv) => ({ argv }));
    case 'build-agent': {
      // a push to the orchestrator `i.credential` points at (see withOrchestrator), then the same
      // push again (nothing to send), and doctor
      const push = ['push', '--credential', i.credential, '--release', 'v1.0.0', '--target', 'amd64-deb', ...cfg, ...i.batchFiles];
      return [['--help'], push, push, ['doctor', '--credential', i.credential, ...cfg], ['crates', 'publish', '--help'], ['pypi', 'upload', '--help']].map((argv) => ({ argv }));
    }
    default:
      throw new Error(`no training plan for ${agent}`);
  }
}

/** Make the training inputs once per build (packages, a key, a published repository). */
export async function trainingInputs(nodePath) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pkgfleet-train-'));
  const step = 'code cache training inputs';
  try {
    const esbuild = await import('esbuild');
    const script = path.join(dir, 'inputs.mjs');
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'scripts/lib/train-inputs.ts')], outfile: script, bundle: true, platform: 'node', format: 'esm', target: 'node24',
      loader: { '.wasm': 'binary' }, external: ['cpu-features', '*.node'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      absWorkingDir: ROOT, logLevel: 'silent',
    });
    const out = await run(step, nodePath, [script, path.join(dir, 'in')], { hint: 'the training inputs are made by scripts/lib/train-inputs.ts: run it with node to see why it fails' });
    const made = JSON.parse(out);
    const batchFiles = (await readdir(made.batches[0])).filter((f) => f.endsWith('.deb')).map((f) => path.join(made.batches[0], f));
    return { dir, script, batchFiles, ...made };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    if (e instanceof StepError) throw e;
    throw new StepError(step, e.message, 'check scripts/lib/train-inputs.ts', { cause: e });
  }
}

/**
 * Train `agentJs` (the wrapped bundle the executable carries) on `agent`'s commands and write its
 * code cache to `out`.
 */
export async function trainCodeCache(agent, agentJs, nodePath, inputs, out) {
  const work = await mkdtemp(path.join(inputs.dir, `${agent}-`));
  if (agent === 'build-agent') return withOrchestrator(nodePath, inputs, work, (credential) => train(agent, agentJs, nodePath, { ...inputs, credential }, work, out));
  return train(agent, agentJs, nodePath, inputs, work, out);
}

/**
 * An orchestrator for build-agent's training to push to: the orchestrator's sources (in the
 * inputs script) serving on 127.0.0.1, stopped once `fn` is done.
 */
async function withOrchestrator(nodePath, inputs, work, fn) {
  const child = spawn(nodePath, [inputs.script, 'serve', path.join(work, 'orchestrator')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.on('data', (b) => stderr.push(b));
  try {
    const credential = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b) => {
        out += b;
        const line = out.slice(0, out.indexOf('\n'));
        if (!out.includes('\n')) return;
        try {
          resolve(JSON.parse(line).credential);
        } catch {
          reject(new StepError('code cache (build-agent)', `the orchestrator to push to said "${line}", not its credential`, 'see scripts/lib/train-inputs.ts serve'));
        }
      });
      child.once('exit', (code) => reject(new StepError('code cache (build-agent)', `the orchestrator to push to exited (${code}) before it listened: ${Buffer.concat(stderr).toString().trim().split('\n').slice(-3).join('\n')}`, 'run node on scripts/lib/train-inputs.ts (bundled) with serve DIR to see why')));
    });
    return await fn(credential);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
  }
}

async function train(agent, agentJs, nodePath, inputs, work, out) {
  const planFile = path.join(work, 'plan.json');
  await writeFile(planFile, JSON.stringify(plan(agent, work, inputs)));
  await writeFile(path.join(work, 'config.json'), '{}');
  const env = { ...process.env, PKGFLEET_CONFIG: path.join(work, 'config.json'), PKGFLEET_REPO_BASE_URL: 'https://packages.example.invalid' };
  // a cache is only taken with the V8 flags it was made with: the executable's own, no others
  delete env.NODE_OPTIONS;
  await run(`code cache (${agent})`, nodePath, [...SEA_EXEC_ARGV, path.join(ROOT, 'scripts/lib/train-run.cjs'), agentJs, out, planFile], {
    cwd: work, env, hint: 'a command the executable is trained on failed: run it with the bundle (node dist/bundle/AGENT.cjs ...) to see why',
  });
  return readFile(out);
}
