import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareEvr, parseEvr, rpmvercmp } from './version';

// pairs from rpm's own test suite (tests/rpmvercmp.at) plus edge cases of separators
const PAIRS: [string, string][] = [
  ['1.0', '1.0'], ['1.0', '2.0'], ['2.0', '1.0'], ['2.0.1', '2.0.1'], ['2.0', '2.0.1'], ['2.0.1a', '2.0.1'],
  ['5.5p1', '5.5p2'], ['5.5p10', '5.5p1'], ['10xyz', '10.1xyz'], ['xyz10', 'xyz10.1'], ['xyz.4', '8'], ['xyz.4', '2'],
  ['5.5p2', '5.6p1'], ['5.6p1', '6.5p1'], ['6.0.rc1', '6.0'], ['10b2', '10a1'], ['1.0aa', '1.0a'], ['10.0001', '10.1'],
  ['10.0001', '10.0039'], ['4.999.9', '5.0'], ['20101121', '20101122'], ['2_0', '2_0'], ['2.0', '2_0'], ['a', 'a'],
  ['a+', 'a+'], ['a+', 'a_'], ['+a', '+a'], ['+a', '_a'], ['+_', '+_'], ['_+', '+_'], ['_+', '_'], ['+', '_'],
  ['1.0~rc1', '1.0~rc1'], ['1.0~rc1', '1.0'], ['1.0', '1.0~rc1'], ['1.0~rc1', '1.0~rc2'], ['1.0~rc1~git123', '1.0~rc1'],
  ['1.0^', '1.0^'], ['1.0^', '1.0'], ['1.0', '1.0^'], ['1.0^git1', '1.0^git1'], ['1.0^git1', '1.0'], ['1.0^git1', '1.01'],
  ['1.0^20160101', '1.0.1'], ['1.0^20160101^git1', '1.0^20160101'], ['1.0~rc1^git1', '1.0~rc1'], ['1.0^git1~pre', '1.0^git1'],
  ['0001', '1'], ['1.002', '1.2'], ['a1', '1a'], ['1.a', '1.1'], ['1..1', '1.1'], ['999999999999999999999', '1000000000000000000000'],
];

describe('rpmvercmp', () => {
  it('orders every pair exactly as the real rpm does', () => {
    const lua = PAIRS.map(([a, b]) => `print(rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}))`).join(' print(" ") ');
    const real = execFileSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    expect(real).toHaveLength(PAIRS.length);
    const ours = PAIRS.map(([a, b]) => rpmvercmp(a, b));
    expect(ours.map((r, i) => `${PAIRS[i]![0]} vs ${PAIRS[i]![1]}: ${r}`)).toEqual(real.map((r, i) => `${PAIRS[i]![0]} vs ${PAIRS[i]![1]}: ${r}`));
  });

  it('is antisymmetric', () => {
    for (const [a, b] of PAIRS) expect(rpmvercmp(a, b)).toBe(-rpmvercmp(b, a) || 0);
  });
});

describe('compareEvr', () => {
  it('epoch first, then version, then release', () => {
    expect(compareEvr({ epoch: 1, version: '1.0', release: '1' }, { epoch: 0, version: '9.0', release: '9' })).toBe(1);
    expect(compareEvr({ epoch: 0, version: '1.10', release: '1' }, { epoch: 0, version: '1.9', release: '5' })).toBe(1);
    expect(compareEvr({ epoch: 0, version: '1.0', release: '2.el9' }, { epoch: 0, version: '1.0', release: '10.el9' })).toBe(-1);
    expect(compareEvr({ epoch: 2, version: '1.0', release: '1' }, { epoch: 2, version: '1.0', release: '1' })).toBe(0);
  });

  it('parses E:V-R', () => {
    expect(parseEvr('2:1.0-3')).toEqual({ epoch: '2', version: '1.0', release: '3' });
    expect(parseEvr('1.0')).toEqual({ epoch: undefined, version: '1.0', release: undefined });
  });
});
