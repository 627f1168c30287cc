#!/usr/bin/env node
// `npm run build`: bundle each agent with esbuild (dist/bundle/<agent>.cjs), then make standalone
// executables with Node's single-executable support for linux x64 and arm64
// (dist/bin/<agent>-linux-<arch>, plus an .xz beside each for machines to download).
// Offline once .cache/node holds the Node binaries; work whose inputs did not change is skipped.
// See docs/EXECUTABLES.md.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AGENTS, bundleAgent as bundleCode, ROOT } from './lib/bundle.mjs';
import { ensureNodeBinary, pinnedNodeVersion } from './lib/node-binary.mjs';
import { SEA_RECIPE, seaCross, seaX64, wrapBundle, xz } from './lib/sea.mjs';
import { trainCodeCache, trainingInputs, TRAINING_SCRIPTS } from './lib/train.mjs';
import { mib, run, sha256, StepError, withLock } from './lib/util.mjs';

const ARCHS = ['x64', 'arm64'];
const USAGE = `usage: node scripts/build.mjs [--agent NAME,...] [--arch x64,arm64] [--bundle-only]
  --agent        only these agents (default: ${AGENTS.join(',')})
  --arch         only these architectures (default: ${ARCHS.join(',')})
  --bundle-only  stop after dist/bundle/*.cjs`;

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: { agent: { type: 'string' }, arch: { type: 'string' }, 'bundle-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const pick = (given, all, what) => {
    const list = given ? given.split(',').map((s) => s.trim()).filter(Boolean) : all;
    const bad = list.filter((x) => !all.includes(x));
    if (bad.length) {
      console.error(`unknown ${what}: ${bad.join(', ')} (known: ${all.join(', ')})\n${USAGE}`);
      process.exit(2);
    }
    return list;
  };
  return { agents: pick(values.agent, AGENTS, 'agent'), archs: pick(values.arch, ARCHS, 'arch'), bundleOnly: !!values['bundle-only'] };
}

function checkHost(nodeVersion) {
  const major = nodeVersion.split('.')[0];
  if (process.versions.node.split('.')[0] !== major) {
    throw new StepError('host', `running under Node ${process.versions.node}, the build needs Node ${major}`, 'run it as `npm run build` (npm puts node_modules/.bin/node first on PATH) or `npx node scripts/build.mjs`');
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new StepError('host', `building on ${process.platform}-${process.arch}`, 'build on linux-x64: the x64 Node binary makes the SEA blobs for both architectures');
  }
}

/** Write `data` to `file` by rename unless it already holds exactly that; either way it ends up fresh. */
async function writeIfChanged(file, data) {
  if (existsSync(file) && (await readFile(file)).equals(data)) {
    const now = new Date();
    await utimes(file, now, now);
    return false;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
  return true;
}

async function bundleAgent(agent) {
  const outfile = path.join(ROOT, 'dist', 'bundle', `${agent}.cjs`);
  let result;
  try {
    result = await bundleCode(agent, outfile, { write: false });
  } catch (e) {
    const first = e.errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : '';
    throw new StepError(`bundle ${agent}`, `${where}${first?.text ?? e.message}`, 'fix the error above (npx tsc -p tsconfig.json --noEmit shows type errors too)', { cause: e });
  }
  const data = Buffer.from(result.code);
  const changed = await writeIfChanged(outfile, data);
  return { outfile, sha256: sha256(data), size: data.length, changed };
}

async function sameSize(file, size) {
  try {
    return (await stat(file)).size === size;
  } catch {
    return false;
  }
}

function rebuildReason(previous, key, bundle, node) {
  if (!previous) return 'first build';
  if (previous.key === key) return 'output missing or altered';
  if (previous.bundle !== bundle.sha256) return 'bundle changed';
  if (previous.node !== node.sha256) return 'node binary changed';
  return 'build scripts changed';
}

async function buildExecutable({ agent, arch, bundle, node, generator, recipe, training }) {
  const name = `${agent}-linux-${arch}`;
  const exe = path.join(ROOT, 'dist', 'bin', name);
  const record = path.join(ROOT, '.cache', 'build', `${name}.json`);
  const key = sha256(JSON.stringify({ bundle: bundle.sha256, node: node.sha256, arch, recipe }));
  const started = performance.now();
  const previous = existsSync(record) ? JSON.parse(readFileSync(record, 'utf8')) : undefined;
  if (previous?.key === key && (await sameSize(exe, previous.size)) && (await sameSize(`${exe}.xz`, previous.xzSize))) {
    // Inputs unchanged: keep the files, but mark them fresh so the test harness prefers them
    // over the sources they were built from.
    const now = new Date();
    await utimes(exe, now, now);
    await utimes(`${exe}.xz`, now, now);
    return { name, size: previous.size, xzSize: previous.xzSize, built: false, seconds: (performance.now() - started) / 1000 };
  }
  const reason = rebuildReason(previous, key, bundle, node);
  const tmp = path.join(ROOT, 'dist', 'bin', `.${name}.${process.pid}.tmp`);
  // temporary names ending in .tmp: a build that was interrupted leaves nothing the next one keeps
  const agentJs = path.join(ROOT, 'dist', 'bin', `.${name}.${process.pid}.agent-js.tmp`);
  const cache = path.join(ROOT, 'dist', 'bin', `.${name}.${process.pid}.agent-cache.tmp`);
  try {
    await wrapBundle(bundle.outfile, agentJs);
    if (arch === 'x64') {
      await trainCodeCache(agent, agentJs, node.path, await training(), cache);
      await seaX64(agentJs, cache, node.path, tmp);
    } else {
      await seaCross(arch, agentJs, generator.path, node.path, tmp);
    }
    await xz(tmp, `${tmp}.xz`);
    await rename(`${tmp}.xz`, `${exe}.xz`);
    await rename(tmp, exe);
  } finally {
    for (const f of [tmp, `${tmp}.xz`, agentJs, cache]) await rm(f, { force: true });
  }
  const size = (await stat(exe)).size;
  const xzSize = (await stat(`${exe}.xz`)).size;
  await mkdir(path.dirname(record), { recursive: true });
  await writeFile(record, JSON.stringify({ key, size, xzSize, bundle: bundle.sha256, node: node.sha256 }, null, 2) + '\n');
  return { name, size, xzSize, built: true, reason, seconds: (performance.now() - started) / 1000 };
}

async function main() {
  const started = performance.now();
  const opts = parseOptions();
  const nodeVersion = pinnedNodeVersion();
  checkHost(nodeVersion);
  await mkdir(path.join(ROOT, '.cache'), { recursive: true });
  await withLock(path.join(ROOT, '.cache', 'build.lock'), () => build(opts, nodeVersion, started), (pid) =>
    console.log(`waiting for another build (pid ${pid}) to finish`),
  );
}

async function build(opts, nodeVersion, started) {
  await mkdir(path.join(ROOT, 'dist', 'bundle'), { recursive: true });
  await mkdir(path.join(ROOT, 'dist', 'bin'), { recursive: true });
  // Left by a build that was interrupted (Ctrl-C skips `finally`); we hold the lock, so no other
  // build is writing them.
  for (const dir of ['bundle', 'bin']) {
    for (const f of await readdir(path.join(ROOT, 'dist', dir))) {
      if (f.endsWith('.tmp') || f.endsWith('.tmp.xz')) await rm(path.join(ROOT, 'dist', dir, f), { force: true });
    }
  }

  const bundles = {};
  for (const agent of opts.agents) {
    bundles[agent] = await bundleAgent(agent);
    const b = bundles[agent];
    console.log(`${b.changed ? 'bundled' : 'same   '} dist/bundle/${agent}.cjs  ${mib(b.size)}`);
  }
  if (opts.bundleOnly) return;

  // The x64 binary is always needed: it makes the SEA blob for every arch.
  const nodes = {};
  for (const arch of ['x64', ...opts.archs.filter((a) => a !== 'x64')]) {
    nodes[arch] = await ensureNodeBinary(arch, nodeVersion);
    if (!nodes[arch].cached) console.log(`node    .cache/node: node-linux-${arch} ${nodeVersion} stripped to ${mib(nodes[arch].size)} (${nodes[arch].origin})`);
  }
  const reported = (await run('node binary (linux-x64)', nodes.x64.path, ['--version'])).trim();
  if (reported !== `v${nodeVersion}`) {
    throw new StepError('node binary (linux-x64)', `.cache/node holds node ${reported}, expected v${nodeVersion}`, 'delete .cache/node and rebuild');
  }

  const scripts = ['build.mjs', 'lib/bundle.mjs', 'lib/node-binary.mjs', 'lib/sea.mjs', 'lib/sea-main.cjs', 'lib/util.mjs', ...TRAINING_SCRIPTS];
  const recipe = sha256(JSON.stringify(SEA_RECIPE) + scripts.map((f) => readFileSync(path.join(ROOT, 'scripts', f), 'utf8')).join('\0'));
  let built = 0;
  let total = 0;
  // the code cache training's inputs, made once if an x64 executable is rebuilt
  let inputs;
  const training = () => (inputs ??= trainingInputs(nodes.x64.path));
  try {
    for (const agent of opts.agents) {
      for (const arch of opts.archs) {
        const r = await buildExecutable({ agent, arch, bundle: bundles[agent], node: nodes[arch], generator: nodes.x64, recipe, training });
        total++;
        if (r.built) built++;
        console.log(`${r.built ? 'built  ' : 'cached '} dist/bin/${r.name}  ${mib(r.size)}, .xz ${mib(r.xzSize)}${r.built ? `  (${r.reason}; ${r.seconds.toFixed(1)} s)` : ''}`);
      }
    }
  } finally {
    const made = await inputs?.catch(() => undefined);
    if (made) await rm(made.dir, { recursive: true, force: true });
  }
  console.log(`build: ${total} executables (${built} built, ${total - built} unchanged) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  if (e instanceof StepError) {
    console.error(`build failed at step "${e.step}": ${e.message}`);
    if (e.hint) console.error(`  what to do: ${e.hint}`);
  } else {
    console.error(`build failed: ${e.stack ?? e}`);
  }
  process.exit(1);
});
