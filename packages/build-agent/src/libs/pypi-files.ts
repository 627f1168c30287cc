/**
 * What a distribution file's name says: project and version, wheel or sdist. Names follow the
 * binary distribution format (wheel: `{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`) and the
 * source distribution format (`{name}-{ver}.tar.gz`, legacy `.zip`); PyPI accepts nothing else.
 */
import { FormatError } from '@pkgfleet/shared';

export type DistKind = 'wheel' | 'sdist';

export interface DistFile {
  filename: string;
  /** As written in the file name (`demo_mod`, or legacy `demo-mod`). */
  name: string;
  version: string;
  kind: DistKind;
}

/** PEP 503: `Demo_Mod.x` → `demo-mod-x`. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function parseDistFilename(filename: string): DistFile {
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length === 5 || parts.length === 6) {
      return { filename, name: parts[0]!, version: parts[1]!, kind: 'wheel' };
    }
    throw new FormatError('E_PYPI_FILENAME', `${filename}: not a wheel file name ({name}-{version}-{python}-{abi}-{platform}.whl)`, 'upload the files that `python -m build` or `setup.py bdist_wheel` wrote');
  }
  const m = /^(.+)-(\d[^-]*)\.(tar\.gz|zip)$/.exec(filename);
  if (m) return { filename, name: m[1]!, version: m[2]!, kind: 'sdist' };
  throw new FormatError(
    'E_PYPI_FILENAME',
    `${filename}: not a wheel (.whl) or sdist ({name}-{version}.tar.gz)`,
    'PyPI accepts only wheels and sdists; leave signatures and other files out of the file list',
  );
}
