import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRpm, rpmbuild } from '../../../../../test/helpers/rpms';
import { readRpm, rpmPrefixLength, RpmFormatError } from './header';
import { packageFromRpm } from './package';
import { Tag } from './tags';

let dir: string;
let built: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rpm-header-'));
  built = await rpmbuild(dir, {
    name: 'reader-fixture', version: '2.5', release: '7.el9', epoch: 3, arch: 'x86_64',
    preamble: ['Requires: (bash or zsh)', 'Recommends: less >= 1.0', 'Provides: reader-api = 4'],
    files: { '/usr/bin/reader-fixture': 'x', '/usr/share/reader fixture/a file': 'y' },
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gen = () => makeRpm({ name: 'gen', version: '1.0', release: '1', arch: 'x86_64', files: [{ path: '/usr/bin/gen', data: Buffer.from('hello') }] });

function errorOf(fn: () => unknown): RpmFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RpmFormatError);
    return err as RpmFormatError;
  }
  throw new Error('expected an RpmFormatError, got none');
}

describe('readRpm on an rpm made by rpmbuild', () => {
  it('reads the fields rpm itself reports', async () => {
    const bytes = await readFile(built);
    const rpm = readRpm(bytes, built);
    const q = execFileSync('rpm', ['-qp', '--nosignature', '--qf', '%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{summary}|%{sourcerpm}|%{buildtime}|%{size}', built], { encoding: 'utf8' }).split('|');
    const h = rpm.header;
    expect([h.string(Tag.NAME), String(h.number(Tag.EPOCH)), h.string(Tag.VERSION), h.string(Tag.RELEASE), h.string(Tag.ARCH), h.string(Tag.SUMMARY), h.string(Tag.SOURCERPM), String(h.number(Tag.BUILDTIME)), String(h.number(Tag.SIZE))]).toEqual(q);
    const files = execFileSync('rpm', ['-qpl', '--nosignature', built], { encoding: 'utf8' }).trim().split('\n');
    expect(packageFromRpm(rpm).files.map((f) => f.path)).toEqual(files);
    expect(rpm.layout.headerEnd).toBeLessThan(bytes.length);
  });

  it('tells how many bytes it needs when given a short prefix', async () => {
    const bytes = await readFile(built);
    const full = readRpm(bytes, built).layout.headerEnd;
    let have = 8;
    let steps = 0;
    for (;;) {
      const need = rpmPrefixLength(bytes.subarray(0, have), built);
      if (need <= have) break;
      have = need;
      steps++;
    }
    expect(have).toBe(full);
    expect(steps).toBeGreaterThanOrEqual(3);
  });
});

describe('bad input: a clear error naming the file', () => {
  it('refuses a file that is not an rpm', () => {
    const e = errorOf(() => rpmPrefixLength(Buffer.from('#!/bin/sh\necho not an rpm\n'), 'x.rpm'));
    expect(e.code).toBe('E_RPM_MAGIC');
    expect(e.message).toMatch(/^x\.rpm: not an rpm file/);
    expect(errorOf(() => readRpm(Buffer.alloc(0), 'empty.rpm')).code).toBe('E_RPM_MAGIC');
  });

  it('refuses truncated files wherever they are cut', () => {
    const b = gen();
    const layout = readRpm(b, 'g.rpm').layout;
    for (const cut of [10, 95, 100, 96 + 16 + 5, layout.headerStart - 1, layout.headerStart + 10, layout.headerEnd - 1]) {
      const e = errorOf(() => readRpm(b.subarray(0, cut), 'cut.rpm'));
      expect(e.code, `cut at ${cut}`).toBe('E_RPM_TRUNCATED');
      expect(e.message).toContain('cut.rpm');
    }
  });

  it('refuses a bad header magic', () => {
    const b = Buffer.from(gen());
    const { headerStart } = readRpm(b, 'g.rpm').layout;
    b[headerStart + 1] = 0;
    const e = errorOf(() => readRpm(b, 'magic.rpm'));
    expect(e.code).toBe('E_RPM_MAGIC');
    expect(e.message).toContain(`magic.rpm: header: bad header magic at byte ${headerStart}`);
  });

  it('refuses absurd counts before allocating anything', () => {
    const b = Buffer.from(gen());
    b.writeUInt32BE(0xffffffff, 96 + 8);
    const e = errorOf(() => rpmPrefixLength(b, 'count.rpm'));
    expect(e.code).toBe('E_RPM_LIMIT');
    expect(e.message).toMatch(/count\.rpm: signature header: absurd index count 4294967295/);
    const c = Buffer.from(gen());
    const { headerStart } = readRpm(c, 'g.rpm').layout;
    c.writeUInt32BE(0x7fffffff, headerStart + 12);
    expect(errorOf(() => readRpm(c, 'store.rpm')).message).toMatch(/store\.rpm: header: absurd store size/);
  });

  it('refuses an index entry that points outside the store', () => {
    const b = Buffer.from(gen());
    const { headerStart } = readRpm(b, 'g.rpm').layout;
    const dl = b.readUInt32BE(headerStart + 12);
    b.writeInt32BE(dl + 100, headerStart + 16 + 16 * 2 + 8); // third entry's offset
    const e = errorOf(() => readRpm(b, 'outside.rpm'));
    expect(e.code).toBe('E_RPM_HEADER');
    expect(e.message).toMatch(/outside\.rpm: header: entry 2 \(tag \d+\): data offset \d+ lies outside the \d+-byte store/);
  });

  it('refuses a string array whose count runs past the store', () => {
    const b = Buffer.from(gen());
    const rpm = readRpm(b, 'g.rpm');
    const idx = rpm.header.entries.findIndex((x) => x.tag === Tag.BASENAMES);
    b.writeUInt32BE(500, rpm.layout.headerStart + 16 + 16 * idx + 12);
    expect(errorOf(() => readRpm(b, 'strings.rpm')).message).toMatch(/strings\.rpm: header: entry \d+ \(tag 1117\): (string \d+ of 500 is not terminated|data at \d+ overlaps)/);
  });

  it('never reads outside the buffer nor throws anything but RpmFormatError on corrupt headers', () => {
    const base = gen();
    const { headerEnd } = readRpm(base, 'g.rpm').layout;
    let seed = 12345;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(base);
      for (let k = 0, n = 1 + rnd(4); k < n; k++) b[96 + rnd(headerEnd - 96)] = rnd(256);
      const cut = rnd(10) === 0 ? rnd(b.length) : b.length;
      try {
        const rpm = readRpm(b.subarray(0, cut), 'fuzz.rpm');
        packageFromRpm(rpm);
      } catch (err) {
        if (!(err instanceof RpmFormatError)) throw new Error(`iteration ${i}: ${(err as Error).stack}`, { cause: err });
        expect((err as Error).message).toContain('fuzz.rpm');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});
