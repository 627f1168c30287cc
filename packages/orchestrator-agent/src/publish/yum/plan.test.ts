import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../settings';
import type { RpmRecord } from './ingest';
import { planYum } from './plan';
import { emptyYumState } from './state';

const rec = (input: string, name: string, version: string, header: string, extra: Partial<RpmRecord['pkg']> = {}): RpmRecord => ({
  input, headerSha256: header, prefixLength: 1000,
  pkg: { name, epoch: 0, version, release: '1', arch: 'x86_64', isSource: false, ...extra },
});

describe('planYum', () => {
  it('the same build given twice (or signed by someone else) is one package', () => {
    const s = planYum(emptyYumState(), [rec('a.rpm', 'hello', '1.0', 'h1'), rec('b.rpm', 'hello', '1.0', 'h1')], 'stable', DEFAULT_SETTINGS);
    expect(s.channels.stable!.packages.map((p) => p.href)).toEqual(['Packages/h/hello-1.0-1.x86_64.rpm']);
    const again = planYum(s, [rec('c.rpm', 'hello', '1.0', 'h1')], 'stable', DEFAULT_SETTINGS);
    expect(again.channels.stable!.packages).toHaveLength(1);
  });

  it('two different builds of one name-version-release.arch: refused, naming both files', () => {
    expect(() => planYum(emptyYumState(), [rec('one.rpm', 'hello', '1.0', 'h1'), rec('two.rpm', 'hello', '1.0', 'h2')], 'stable', DEFAULT_SETTINGS))
      .toThrow(/two\.rpm and one\.rpm are different builds that both claim hello-1\.0-1\.x86_64/);
  });

  it('versions that differ only by epoch cannot share a file name', () => {
    expect(() => planYum(emptyYumState(), [rec('a.rpm', 'hello', '1.0', 'h1'), rec('b.rpm', 'hello', '1.0', 'h2', { epoch: 1 })], 'stable', DEFAULT_SETTINGS))
      .toThrow(/b\.rpm: hello-1:1\.0-1\.x86_64 would be stored as Packages\/h\/hello-1\.0-1\.x86_64\.rpm, which already holds hello-1\.0-1\.x86_64/);
  });

  it('retention is per name and arch, other channels untouched, unknown channel refused', () => {
    let s = planYum(emptyYumState(), [rec('n.rpm', 'tool', '9.0', 'n9')], 'nightly', DEFAULT_SETTINGS);
    const versions = ['1.0', '1.1', '1.2', '1.10', '1.9'];
    s = planYum(s, [...versions.map((v) => rec(`${v}.rpm`, 'tool', v, v)), rec('arm.rpm', 'tool', '0.1', 'arm', { arch: 'aarch64' })], 'stable', { ...DEFAULT_SETTINGS, retention: 2 });
    expect(s.channels.stable!.packages.map((p) => `${p.version}.${p.arch}`)).toEqual(['0.1.aarch64', '1.10.x86_64', '1.9.x86_64']);
    expect(s.channels.nightly!.packages.map((p) => p.version)).toEqual(['9.0']);
    expect(() => planYum(s, [], 'beta', DEFAULT_SETTINGS)).toThrow(/channel "beta" is not configured/);
  });
});
