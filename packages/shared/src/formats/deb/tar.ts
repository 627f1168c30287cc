/**
 * Just enough of tar (POSIX ustar, GNU and pax extensions) to find one member of a small archive
 * held in memory: a .deb's control.tar. Synchronous and pure; data.tar is never read.
 */
export interface TarMember {
  name: string;
  /** '0' (or NUL) regular file, '5' directory, ... as in the header's typeflag. */
  type: string;
  data: Uint8Array;
}

function field(h: Uint8Array, off: number, len: number): string {
  const b = h.subarray(off, off + len);
  const nul = b.indexOf(0);
  return Buffer.from(nul >= 0 ? b.subarray(0, nul) : b).toString('utf8');
}

function octal(h: Uint8Array, off: number, len: number, what: string): number {
  if (h[off]! & 0x80) {
    // GNU base-256 for big sizes
    let n = 0;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + h[i]!;
    return n;
  }
  const text = field(h, off, len).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`bad ${what} "${text}" in tar header`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** Every member of `tar` (names without a leading "./"); throws on a damaged archive. */
export function* tarMembers(tar: Uint8Array): Generator<TarMember> {
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= tar.length) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) return; // end-of-archive blocks
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== octal(h, 148, 8, 'checksum')) throw new Error(`tar header checksum mismatch at offset ${pos}`);
    const size = octal(h, 124, 12, 'size');
    const type = String.fromCharCode(h[156]!);
    const start = pos + 512;
    if (start + size > tar.length) throw new Error(`tar member at offset ${pos} claims ${size} bytes past the end`);
    const data = tar.subarray(start, start + size);
    pos = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'x') {
      // pax: "LEN path=NAME\n" records
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'g') continue;
    const prefix = field(h, 257, 6) === 'ustar' ? field(h, 345, 155) : '';
    const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    longName = undefined;
    yield { name: name.replace(/^\.\//, ''), type: type === '\0' ? '0' : type, data };
  }
}
