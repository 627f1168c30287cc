import { crc32 } from 'node:zlib';
import { FormatError } from '../errors';

/**
 * The .xz container (The .xz File Format 1.1.0, §2-4), enough to join the blocks of two streams
 * into one: a stream is a header, blocks that decompress one after another, an index listing each
 * block's unpadded and uncompressed size, and a footer. Every xz decoder reads a stream of many
 * blocks (xz -T writes them), so text compressed in pieces reads back as the pieces joined; the
 * pieces already compressed travel as their bytes. Pure: bytes in, bytes out.
 */
const HEADER_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const FOOTER_MAGIC = Buffer.from('YZ');
const HEADER_SIZE = 12;
const FOOTER_SIZE = 12;

export interface XzIndexRecord {
  unpaddedSize: number;
  uncompressedSize: number;
}

export interface XzStreamLayout {
  /** The two stream-flags bytes (check type): both streams joined must have the same. */
  flags: Buffer;
  /** Where the blocks end (and the index starts). */
  blocksEnd: number;
  records: XzIndexRecord[];
}

const bad = (what: string) => new FormatError('E_XZ_DATA', `xz stream: ${what}`);

/** §1.2: multibyte integer, 7 bits a byte, least significant first, at most 9 bytes. */
function readVli(b: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  for (let i = 0; i < 9 && pos + i < end; i++) {
    const byte = b[pos + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw bad('an index size is too large');
      return [value, pos + i + 1];
    }
  }
  throw bad('a multibyte integer runs past the index');
}

function writeVli(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** The layout of a single .xz stream: its flags, where its blocks end, its index records. */
export function xzStreamLayout(stream: Uint8Array): XzStreamLayout {
  const b = Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength);
  if (b.length < HEADER_SIZE + FOOTER_SIZE || !b.subarray(0, 6).equals(HEADER_MAGIC)) throw bad('no stream header');
  const flags = b.subarray(6, 8);
  if (crc32(flags) !== b.readUInt32LE(8)) throw bad('stream header CRC32 mismatch');
  const footer = b.subarray(b.length - FOOTER_SIZE);
  if (!footer.subarray(10).equals(FOOTER_MAGIC) || !footer.subarray(8, 10).equals(flags)) throw bad('no stream footer (or one for another stream)');
  if (crc32(footer.subarray(4, 10)) !== footer.readUInt32LE(0)) throw bad('stream footer CRC32 mismatch');
  const indexSize = (footer.readUInt32LE(4) + 1) * 4;
  const indexStart = b.length - FOOTER_SIZE - indexSize;
  if (indexStart < HEADER_SIZE) throw bad('the index is larger than the stream');
  const index = b.subarray(indexStart, indexStart + indexSize);
  if (index[0] !== 0 || crc32(index.subarray(0, indexSize - 4)) !== index.readUInt32LE(indexSize - 4)) throw bad('index damaged');
  let [count, pos] = readVli(index, 1, indexSize - 4);
  if (count > (indexSize - 5) / 2) throw bad('the index claims more blocks than it holds');
  const records: XzIndexRecord[] = [];
  let blocks = 0;
  while (count-- > 0) {
    let unpaddedSize: number;
    let uncompressedSize: number;
    [unpaddedSize, pos] = readVli(index, pos, indexSize - 4);
    [uncompressedSize, pos] = readVli(index, pos, indexSize - 4);
    records.push({ unpaddedSize, uncompressedSize });
    blocks += Math.ceil(unpaddedSize / 4) * 4;
  }
  if (HEADER_SIZE + blocks !== indexStart) throw bad('the index does not describe the blocks');
  return { flags: Buffer.from(flags), blocksEnd: indexStart, records };
}

/**
 * One stream holding the blocks of `first` then those of `second` (two .xz streams with the
 * same check type): it decompresses to what `first` and `second` decompress to, joined.
 */
export function xzJoinStreams(first: Uint8Array, second: Uint8Array): Buffer {
  const a = xzStreamLayout(first);
  const b = xzStreamLayout(second);
  if (!a.flags.equals(b.flags)) throw bad('the streams use different integrity checks');
  const records = [...a.records, ...b.records];
  const index: number[] = [0];
  writeVli(index, records.length);
  for (const r of records) {
    writeVli(index, r.unpaddedSize);
    writeVli(index, r.uncompressedSize);
  }
  while (index.length % 4 !== 0) index.push(0);
  const indexBytes = Buffer.alloc(index.length + 4);
  indexBytes.set(index);
  indexBytes.writeUInt32LE(crc32(indexBytes.subarray(0, index.length)), index.length);
  const footer = Buffer.alloc(FOOTER_SIZE);
  footer.writeUInt32LE(indexBytes.length / 4 - 1, 4);
  a.flags.copy(footer, 8);
  FOOTER_MAGIC.copy(footer, 10);
  footer.writeUInt32LE(crc32(footer.subarray(4, 10)), 0);
  return Buffer.concat([
    Buffer.from(first.buffer, first.byteOffset, a.blocksEnd),
    Buffer.from(second.buffer, second.byteOffset + HEADER_SIZE, b.blocksEnd - HEADER_SIZE),
    indexBytes,
    footer,
  ]);
}
