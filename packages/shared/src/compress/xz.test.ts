import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { xzCompress, xzDecompress } from './xz';

describe('xz (liblzma WebAssembly)', () => {
  const text = Buffer.from(Array.from({ length: 3000 }, (_, i) => `Package: p${i}\nVersion: 1.${i}\nSHA256: ${randomBytes(32).toString('hex')}\n`).join('\n'));

  it('writes .xz that xz(1) decompresses to the same bytes, deterministically', async () => {
    const packed = await xzCompress(text);
    expect(packed.length).toBeLessThan(text.length);
    expect(execFileSync('xz', ['-dc'], { input: packed }).equals(text)).toBe(true);
    expect(Buffer.from(await xzCompress(text)).equals(Buffer.from(packed))).toBe(true);
  });

  it('reads what xz(1) writes', async () => {
    const packed = execFileSync('xz', ['-9c'], { input: text });
    expect(Buffer.from(await xzDecompress(packed)).equals(text)).toBe(true);
  });

  it('names the data when it is not xz', async () => {
    await expect(xzDecompress(Buffer.from('not xz at all'), 'pkg.deb: control.tar.xz')).rejects.toThrow(/pkg\.deb: control\.tar\.xz: not valid xz data/);
  });
});
