import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { appendToDocument, buildDocument, MAX_MEMBERS } from './documents';

const head = (n: number) => `<metadata packages="${n}">\n`;
const TAIL = '</metadata>\n';
const el = (name: string) => Buffer.from(`<package type="rpm"><name>${name}</name></package>\n`);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('repodata documents as gzip members', () => {
  it('a whole document reads back as one text, with its open checksum and size', async () => {
    const d = await buildDocument(head(2), Buffer.concat([el('a'), el('b')]), TAIL);
    const text = gunzipSync(d.gz);
    expect(text.toString()).toBe(`${head(2)}${el('a')}${el('b')}${TAIL}`);
    expect([d.openChecksum, d.openSize]).toEqual([sha256(text), text.length]);
    expect(d.layout.members).toBe(1);
  });

  it('appending keeps the published elements as compressed bytes and counts the packages anew', async () => {
    const first = await buildDocument(head(2), Buffer.concat([el('a'), el('b')]), TAIL);
    const second = appendToDocument(first.gz, first.layout, head(2), head(3), el('c'), TAIL)!;
    const text = gunzipSync(second.gz);
    expect(text.toString()).toBe(`${head(3)}${el('a')}${el('b')}${el('c')}${TAIL}`);
    expect([second.openChecksum, second.openSize]).toEqual([sha256(text), text.length]);
    expect(second.layout.members).toBe(2);
    // the first document's body member is in the second, byte for byte
    expect(second.gz.includes(first.gz.subarray(first.layout.head, first.gz.length - first.layout.tail))).toBe(true);
    const third = appendToDocument(second.gz, second.layout, head(3), head(4), el('d'), TAIL)!;
    expect(gunzipSync(third.gz).toString()).toBe(`${head(4)}${el('a')}${el('b')}${el('c')}${el('d')}${TAIL}`);
  });

  it('does not append to a document laid out otherwise, damaged, or with as many members as it may have', async () => {
    const d = await buildDocument(head(1), el('a'), TAIL);
    expect(appendToDocument(d.gz, d.layout, head(7), head(8), el('b'), TAIL)).toBeUndefined(); // another count
    expect(appendToDocument(d.gz, { ...d.layout, head: d.layout.head + 3 }, head(1), head(2), el('b'), TAIL)).toBeUndefined();
    expect(appendToDocument(d.gz, { ...d.layout, tail: d.gz.length }, head(1), head(2), el('b'), TAIL)).toBeUndefined();
    const damaged = Buffer.from(d.gz);
    damaged[d.layout.head + 12]! ^= 0xff;
    expect(appendToDocument(damaged, d.layout, head(1), head(2), el('b'), TAIL)).toBeUndefined();
    expect(appendToDocument(d.gz, { ...d.layout, members: MAX_MEMBERS }, head(1), head(2), el('b'), TAIL)).toBeUndefined();
  });
});
