import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareVersions, versionProblem } from './version';

/** The oracle: dpkg itself. */
function dpkgSays(a: string, op: 'lt' | 'eq' | 'gt', b: string): boolean {
  return spawnSync('dpkg', ['--compare-versions', a, op, b]).status === 0;
}

const VERSIONS = [
  '1.0', '1.0-1', '1.0-0', '1:0.9', '0:1.0', '2:0', '1.0~rc1', '1.0~rc1-1', '1.0~~', '1.0~', '1.0+b1', '1.0.1',
  '1.0a', '1.0-1ubuntu1', '1.0-1~bpo12+1', '1.00', '1.0-1.1', '10.0', '9.9', '1.2.3-4+deb12u1', '1:2.38.1-5+deb12u3',
  '2.38.1-5', '0.0.0', '1.0-a', '1.0-a~', 'a'.replace('a', '3a'), '3.0-', '1.0+dfsg-2',
].filter((v) => versionProblem(v) === undefined);

describe('compareVersions', () => {
  it('orders every pair exactly as dpkg --compare-versions does', () => {
    let pairs = 0;
    for (const a of VERSIONS) {
      for (const b of VERSIONS) {
        const ours = compareVersions(a, b);
        const op = ours < 0 ? 'lt' : ours > 0 ? 'gt' : 'eq';
        expect(dpkgSays(a, op, b), `${a} ${op} ${b}`).toBe(true);
        pairs++;
      }
    }
    expect(pairs).toBeGreaterThan(400);
  });

  it('puts ~ before the end of the string and the epoch above everything', () => {
    expect(compareVersions('1.0~rc1', '1.0')).toBeLessThan(0);
    expect(compareVersions('1:0.1', '99.0')).toBeGreaterThan(0);
    expect(compareVersions('1.0-1', '1.0-1')).toBe(0);
  });
});

describe('versionProblem', () => {
  it.each([
    ['', /empty/],
    ['a1.0', /does not start with a digit/],
    ['x:1.0', /epoch/],
    ['1.0 beta', /whitespace/],
    ['1.0_1', /characters/],
    ['1.0-', /empty revision/],
  ])('rejects %j', (v, why) => {
    expect(versionProblem(v)).toMatch(why);
  });
});
