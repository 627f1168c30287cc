import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { xzCompress, xzDecompress } from './xz';
import { xzJoinStreams, xzStreamLayout } from './xz-stream';

const text = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => `Package: p${from + i}\nSHA256: ${randomBytes(32).toString('hex')}\n`).join('\n'));

describe('.xz streams joined block by block', () => {
  it('the joined stream decompresses (xz(1), liblzma here) to the pieces joined, and xz(1) lists one block per piece', async () => {
    const pieces = [text(2000), text(1, 2000), text(300, 2001)];
    let joined: Buffer = Buffer.from(await xzCompress(pieces[0]!, 1));
    for (const p of pieces.slice(1)) joined = xzJoinStreams(joined, await xzCompress(p, 1));
    const all = Buffer.concat(pieces);
    expect(execFileSync('xz', ['-dc'], { input: joined }).equals(all)).toBe(true);
    expect(Buffer.from(await xzDecompress(joined)).equals(all)).toBe(true);
    execFileSync('xz', ['-t'], { input: joined });
    const dir = mkdtempSync(join(tmpdir(), 'xz-stream-'));
    writeFileSync(join(dir, 'joined.xz'), joined);
    const list = execFileSync('xz', ['--robot', '-lv', join(dir, 'joined.xz')]).toString(); // -l reads files only
    rmSync(dir, { recursive: true });
    expect(list.split('\n').filter((l) => l.startsWith('block\t'))).toHaveLength(3);
    expect(xzStreamLayout(joined).records.map((r) => r.uncompressedSize)).toEqual(pieces.map((p) => p.length));
  });

  it('refuses what is not one .xz stream, or streams with different checks', async () => {
    const good = Buffer.from(await xzCompress(text(10), 1));
    expect(() => xzStreamLayout(Buffer.from('not xz'))).toThrow(/no stream header/);
    const cut = good.subarray(0, good.length - 3);
    expect(() => xzStreamLayout(cut)).toThrow(/footer/);
    const damaged = Buffer.from(good);
    damaged[damaged.length - 20]! ^= 0x55; // inside the index
    expect(() => xzStreamLayout(damaged)).toThrow(/xz stream/);
    const crc32Check = execFileSync('xz', ['-c', '--check=crc32'], { input: text(10) });
    expect(() => xzJoinStreams(good, crc32Check)).toThrow(/different integrity checks/);
  });
});
