import { describe, expect, it } from 'vitest';
import { normalizePep440, releaseVersion, samePep440 } from './versions';

describe('releaseVersion', () => {
  it('strips the v of a release tag and keeps pre-release suffixes', () => {
    expect(releaseVersion('v1.2.3')).toBe('1.2.3');
    expect(releaseVersion('v1.2.3-rc.1')).toBe('1.2.3-rc.1');
    expect(releaseVersion('1.2.3')).toBe('1.2.3');
  });
  it('refuses names that are not release tags, as bad usage', () => {
    expect(() => releaseVersion('nightly-2025-01-01')).toThrow(/not a release tag/);
    expect(() => releaseVersion('v1.2')).toThrow(/not a release tag/);
  });
});

describe('PEP 440', () => {
  it('normalizes the spellings PEP 440 allows', () => {
    expect(normalizePep440('1.2.3')).toBe('1.2.3');
    expect(normalizePep440('v1.2.3-RC.1')).toBe('1.2.3rc1');
    expect(normalizePep440('1.2.3-alpha2')).toBe('1.2.3a2');
    expect(normalizePep440('1.2.3-1')).toBe('1.2.3.post1');
    expect(normalizePep440('1.02.3.dev')).toBe('1.2.3.dev0');
    expect(normalizePep440('1.2.3+Local-Build')).toBe('1.2.3+local.build');
    expect(normalizePep440('not-a-version')).toBeUndefined();
  });
  it('matches a tag against a file version', () => {
    expect(samePep440('1.2.3-rc.1', '1.2.3rc1')).toBe(true);
    expect(samePep440('1.2', '1.2.0')).toBe(true);
    expect(samePep440('1.2.3', '1.2.4')).toBe(false);
    expect(samePep440('1.2.3', '1.2.3rc1')).toBe(false);
  });
});
