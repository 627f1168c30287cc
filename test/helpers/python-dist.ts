/**
 * Builds a real wheel and sdist for tests with Debian's setuptools + wheel (`setup.py sdist
 * bdist_wheel`, no network). `body` ends up in the module, so two builds with different bodies
 * give same-named files with different content.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A python3 that has setuptools and wheel (Debian's, not a pyenv shim without them). */
export async function findBuildPython(): Promise<string> {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    try {
      await run(candidate, ['-c', 'import setuptools, wheel']);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('no python3 with setuptools and wheel: install python3-setuptools and python3-wheel');
}

export interface PythonDists {
  wheel: string;
  sdist: string;
}

export async function buildPythonDists(dir: string, opts: { name: string; version: string; body?: string }): Promise<PythonDists> {
  const src = join(dir, 'src');
  const mod = opts.name.replace(/-/g, '_');
  await mkdir(join(src, mod), { recursive: true });
  await writeFile(join(src, mod, '__init__.py'), `${opts.body ?? 'VALUE = 1'}\n`);
  await writeFile(
    join(src, 'setup.py'),
    `from setuptools import setup\nsetup(name=${JSON.stringify(opts.name)}, version=${JSON.stringify(opts.version)}, packages=[${JSON.stringify(mod)}], description="test module", license="MIT")\n`,
  );
  const python = await findBuildPython();
  // SOURCE_DATE_EPOCH keeps rebuilds of the same body byte-identical in the wheel.
  await run(python, ['setup.py', '-q', 'sdist', '-d', join(dir, 'dist'), 'bdist_wheel', '-d', join(dir, 'dist')], {
    cwd: src,
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
  });
  const files = await readdir(join(dir, 'dist'));
  const wheel = files.find((f) => f.endsWith('.whl'));
  const sdist = files.find((f) => f.endsWith('.tar.gz'));
  if (!wheel || !sdist) throw new Error(`setup.py made ${files.join(', ')}, expected a wheel and an sdist`);
  return { wheel: join(dir, 'dist', wheel), sdist: join(dir, 'dist', sdist) };
}
