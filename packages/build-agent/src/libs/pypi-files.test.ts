import { describe, expect, it } from 'vitest';
import { normalizeProjectName, parseDistFilename } from './pypi-files';

describe('parseDistFilename', () => {
  it('reads wheels, with and without a build tag', () => {
    expect(parseDistFilename('veilid-0.4.1-py3-none-any.whl')).toEqual({ filename: 'veilid-0.4.1-py3-none-any.whl', name: 'veilid', version: '0.4.1', kind: 'wheel' });
    expect(parseDistFilename('demo_mod-1.2.3-1-cp312-cp312-manylinux_2_17_x86_64.whl')).toMatchObject({ name: 'demo_mod', version: '1.2.3', kind: 'wheel' });
  });
  it('reads sdists whose legacy names contain dashes', () => {
    expect(parseDistFilename('demo-mod-1.2.3.tar.gz')).toMatchObject({ name: 'demo-mod', version: '1.2.3', kind: 'sdist' });
    expect(parseDistFilename('demo_mod-1.2.3rc1.zip')).toMatchObject({ name: 'demo_mod', version: '1.2.3rc1', kind: 'sdist' });
  });
  it('refuses files PyPI would not take, naming them', () => {
    expect(() => parseDistFilename('demo-1.2.3.tar.gz.asc')).toThrow(/demo-1.2.3.tar.gz.asc: not a wheel/);
    expect(() => parseDistFilename('demo-1.2.3.whl')).toThrow(/not a wheel file name/);
    expect(() => parseDistFilename('README.md')).toThrow(/README.md/);
  });
});

describe('normalizeProjectName', () => {
  it('follows PEP 503', () => {
    expect(normalizeProjectName('Demo_Mod.x')).toBe('demo-mod-x');
    expect(normalizeProjectName('demo--mod')).toBe('demo-mod');
  });
});
