import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { arArchive, buildDeb, writeDeb } from '../../../../../test/helpers/debs';
import { readDebHead, type DebControl } from './deb';

const dir = mkdtempSync(join(tmpdir(), 'deb-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(path: string): Promise<DebControl> {
  const bytes = readFileSync(path);
  const r = await readDebHead(bytes, bytes.length, path);
  if (!('control' in r)) throw new Error(`needs ${r.need}`);
  return r.control;
}

describe('readDebHead', () => {
  it.each(['gzip', 'xz', 'zstd', 'none'] as const)('reads control.tar compressed with %s exactly as dpkg-deb -f does', async (z) => {
    const deb = buildDeb(join(dir, z), {
      name: 'multi-line', version: '1:2.0~rc1-3', arch: 'amd64', depends: 'libc6 (>= 2.36)',
      description: 'short summary\n A longer text\n .\n with a paragraph break.',
      extra: 'X-Custom-Field: Kept As Is\n',
    }, z);
    const c = await read(deb);
    expect(c.package).toBe('multi-line');
    expect(c.version).toBe('1:2.0~rc1-3');
    expect(c.architecture).toBe('amd64');
    expect(c.source).toBe('multi-line');
    for (const f of c.fields) {
      expect(execFileSync('dpkg-deb', ['-f', deb, f.name]).toString().replace(/\n$/, ''), f.name).toBe(f.value);
    }
    expect(c.fields.map((f) => f.name)).toContain('X-Custom-Field');
  });

  it('asks for more bytes when the head does not hold the control member', async () => {
    const deb = buildDeb(join(dir, 'big'), { name: 'big', version: '1', arch: 'all', extra: `X-Long: ${'y'.repeat(300_000)}\n` }, 'none');
    const bytes = readFileSync(deb);
    const r = await readDebHead(bytes.subarray(0, 4096), bytes.length, deb);
    expect('need' in r && r.need > 4096).toBe(true);
    if ('need' in r) expect(((await readDebHead(bytes.subarray(0, r.need), bytes.length, deb)) as { control: DebControl }).control.package).toBe('big');
  });

  it('takes the source name without its version', async () => {
    const p = await writeDeb(join(dir, 'src.deb'), { name: 'libfoo1', version: '1.0-1', arch: 'arm64', source: 'foo (1.0-0)' });
    expect((await read(p)).source).toBe('foo');
  });
});

describe('readDebHead on bad input', () => {
  const cases: Array<[string, () => Promise<Buffer> | Buffer, RegExp]> = [
    ['a text file', () => Buffer.from('hello world, not a package\n'), /bad\.deb: not an ar archive/],
    ['a truncated .deb', () => readFileSync(buildDeb(join(dir, 't'), { name: 'trunc', version: '1', arch: 'all' })).subarray(0, 200), /bad\.deb: .*(truncated|claims)/],
    ['no control member', () => arArchive([['debian-binary', Buffer.from('2.0\n')], ['data.tar', Buffer.alloc(1024)]]), /bad\.deb: no control\.tar member/],
    ['a damaged control.tar.gz', () => arArchive([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', Buffer.from('garbage')]]), /bad\.deb: control\.tar\.gz: cannot decompress/],
    ['a control.tar.xz that is not xz', () => arArchive([['debian-binary', Buffer.from('2.0\n')], ['control.tar.xz', gzipSync('x')]]), /bad\.deb: control\.tar\.xz: not valid xz data/],
    ['a missing Version', async () => readFileSync(await writeDeb(join(dir, 'nv.deb'), { name: 'x', version: '1', arch: 'all' }, 'Package: x\nArchitecture: all\nMaintainer: a <a@b.c>\nDescription: d\n')), /bad\.deb: control file: missing required field Version/],
    ['an invalid Version', async () => readFileSync(await writeDeb(join(dir, 'iv.deb'), { name: 'xy', version: 'v1', arch: 'all' })), /bad\.deb: control file: Version "v1": upstream version "v1" does not start with a digit/],
    ['an invalid Package', async () => readFileSync(await writeDeb(join(dir, 'ip.deb'), { name: 'Bad_Name', version: '1', arch: 'all' })), /bad\.deb: control file: Package "Bad_Name" is not a valid package name/],
    ['a control file that is not deb822', async () => readFileSync(await writeDeb(join(dir, 'nd.deb'), { name: 'x', version: '1', arch: 'all' }, 'just some text\n')), /bad\.deb: control file: line 1/],
  ];
  it.each(cases)('refuses %s, naming the file', async (_what, make, message) => {
    const bytes = await make();
    await expect(readDebHead(bytes, bytes.length, 'bad.deb')).rejects.toThrow(message);
  });

  it('sizes the fixture like a real package', () => {
    expect(statSync(buildDeb(join(dir, 's'), { name: 'sized', version: '1', arch: 'all', payload: 10_000 }, 'none')).size).toBeGreaterThan(10_000);
  });
});
