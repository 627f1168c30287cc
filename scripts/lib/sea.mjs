// Node single-executable applications (SEA): a bundle injected into a copy of a node binary.
// The executable's main script is sea-main.cjs; the agent's bundle (wrapped in a CommonJS
// function) is the asset `agent.js`, and for x64 its trained V8 code cache is `agent.cache`
// (train.mjs). x64 goes through @yao-pkg/pkg's SEA path; for arm64 that path would have to *run*
// the arm64 binary (it asks it for its version), so there the same steps are done here: the blob
// is made by the x64 node of the same version (the blob format is version-specific, not
// arch-specific; a code cache or snapshot would be, so there is none) and injected into the arm64
// binary with postject.
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { run, StepError } from './util.mjs';

const require = createRequire(import.meta.url);
// Built by concatenation, as pkg does, so the sentinel never appears verbatim in a file that
// might itself end up inside a blob.
const SEA_FUSE = 'NODE_SEA' + '_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// execArgv: a young generation of at most 4 MiB per semi-space (V8's default grows it to 16).
// A long-running serve that has taken a few pushes otherwise holds a young generation at its
// largest: orchestrator heap 86 -> 32 MiB committed, peak RSS over a push sequence about 10 MiB
// lower; the cold apt publish takes the same time (3 runs each). The code cache is trained under
// the same flags (train.mjs): V8 may refuse a cache made under others.
export const SEA_EXEC_ARGV = ['--max-semi-space-size=4'];
const SEA_CONFIG = { disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false, execArgv: SEA_EXEC_ARGV };
const SEA_MAIN = path.join(path.dirname(new URL(import.meta.url).pathname), 'sea-main.cjs');
// LIEF (inside postject) complains about note-section names it re-reads after growing the section
// table; harmless, and pkg filters the same lines.
const BENIGN_POSTJECT = /^warning: Can't find string offset for section name '\.note/;

export const SEA_RECIPE = { config: SEA_CONFIG, pkg: require('@yao-pkg/pkg/package.json').version, postject: require('postject/package.json').version };

/**
 * The bundle as the executable carries it (sea-main.cjs and train-run.cjs compile it): one
 * function taking what a CommonJS module gets, in ASCII, so that the executable reads it as a
 * one-byte string. esbuild escapes every non-ASCII character of strings, templates, regular
 * expressions and names; what it leaves is in comments (en dashes, accents), made '?' here.
 */
export async function wrapBundle(bundle, output) {
  const lines = (await readFile(bundle, 'utf8')).split('\n');
  for (const [i, line] of lines.entries()) {
    if (!/[\u0080-\uffff]/.test(line)) continue;
    if (!/^\s*(\/\/|\/\*|\*)/.test(line)) {
      throw new StepError('SEA', `${bundle}:${i + 1}: a non-ASCII character outside a comment`, 'keep esbuild\'s charset "ascii" (its default), which escapes them');
    }
    lines[i] = line.replace(/[\u0080-\uffff]/g, '?');
  }
  await writeFile(output, `(function (exports, require, module, __filename, __dirname) {${lines.join('\n')}\n})`, 'latin1');
}

/**
 * dist/bin/<agent>-linux-x64 via pkg's SEA path. `nodePath` is the stripped x64 node, `agentJs`
 * the wrapped bundle and `cache` its trained code cache.
 */
export async function seaX64(agentJs, cache, nodePath, output) {
  const { log } = require('@yao-pkg/pkg/lib-es5/log');
  const sea = require('@yao-pkg/pkg/lib-es5/sea.js').default;
  log.info = () => {}; // our own summary says what was built
  try {
    await sea(SEA_MAIN, {
      targets: [{ nodeRange: 'node24', platform: 'linux', arch: 'x64', output }],
      nodePath,
      signature: false,
      seaConfig: { ...SEA_CONFIG, assets: { 'agent.js': agentJs, 'agent.cache': cache } },
    });
  } catch (e) {
    throw new StepError('SEA (linux-x64)', `pkg could not make ${output}: ${e.message}`, 'check that the bundle runs with node_modules/.bin/node', { cause: e });
  }
  await chmod(output, 0o755);
}

/** Same result for another arch, without a code cache: blob from `generator` (x64 node, same version), injected into `nodePath`. */
export async function seaCross(arch, agentJs, generator, nodePath, output) {
  const step = `SEA (linux-${arch})`;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'pkgfleet-sea-'));
  try {
    const blob = path.join(tmp, 'sea-prep.blob');
    const config = path.join(tmp, 'sea-config.json');
    await writeFile(config, JSON.stringify({ main: SEA_MAIN, output: blob, ...SEA_CONFIG, assets: { 'agent.js': agentJs } }));
    await run(step, generator, ['--experimental-sea-config', config], { hint: 'the x64 node binary in .cache/node must run here: delete .cache/node and rebuild' });
    await copyFile(nodePath, output);
    const { inject } = require('postject');
    const data = await readFile(blob);
    await withFilteredStderr(() => inject(output, 'NODE_SEA_BLOB', data, { sentinelFuse: SEA_FUSE, overwrite: true }));
    await chmod(output, 0o755);
  } catch (e) {
    if (e instanceof StepError) throw e;
    throw new StepError(step, `postject could not inject into ${output}: ${e.message}`, 'delete .cache/node to re-fetch the node binary, then rebuild', { cause: e });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function withFilteredStderr(fn) {
  const original = process.stderr.write;
  process.stderr.write = function (chunk, ...rest) {
    if (BENIGN_POSTJECT.test(String(chunk))) {
      const cb = rest.find((r) => typeof r === 'function');
      if (cb) process.nextTick(cb);
      return true;
    }
    return original.call(process.stderr, chunk, ...rest);
  };
  try {
    return await fn();
  } finally {
    process.stderr.write = original;
  }
}

/** `xz -T2` of `file` into `output`, streamed. */
export async function xz(file, output) {
  const out = createWriteStream(output);
  const closed = new Promise((resolve, reject) => out.on('close', resolve).on('error', reject));
  await run('xz', 'xz', ['-T2', '-c', file], { stdout: out, hint: 'apt-get install xz-utils' });
  await closed;
}
