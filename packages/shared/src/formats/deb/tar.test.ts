import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tarMembers } from './tar';

const dir = mkdtempSync(join(tmpdir(), 'tar-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tarMembers', () => {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  mkdirSync(join(dir, 'src', 'd'.repeat(120)), { recursive: true });
  writeFileSync(join(dir, 'src', 'control'), 'Package: x\n');
  writeFileSync(join(dir, 'src', long), 'long\n');

  it.each(['gnu', 'posix', 'ustar'])('lists what GNU tar --format=%s wrote, long names included', (format) => {
    const names = format === 'ustar' ? ['./control'] : ['./control', `./${long}`];
    const tar = execFileSync('tar', ['-C', join(dir, 'src'), `--format=${format}`, '-cf', '-', ...names]);
    const got = [...tarMembers(tar)].map((m) => [m.name, m.type, Buffer.from(m.data).toString()]);
    expect(got).toEqual(names.map((n) => [n.slice(2), '0', n === './control' ? 'Package: x\n' : 'long\n']));
  });

  it('refuses a damaged header and a member past the end', () => {
    const tar = execFileSync('tar', ['-C', join(dir, 'src'), '-cf', '-', './control']);
    const bad = Buffer.from(tar);
    bad[10] = 0x41;
    expect(() => [...tarMembers(bad)]).toThrow(/checksum mismatch/);
    expect(() => [...tarMembers(tar.subarray(0, 520))]).toThrow(/past the end/);
  });
});
