import { HEADER_MAGIC, type RpmHeader } from './header';
import { RpmType } from './tags';

/**
 * Writes rpm headers the way rpm's headerExport lays them out: the region tag first, the other
 * entries sorted by tag, their data in that order (aligned for its type), the region trailer
 * last. Used for signature headers (sign.ts) and by the test/bench rpm generator.
 */

/** One entry to write: its data already encoded as rpm stores it. */
export interface EntryData {
  tag: number;
  type: number;
  count: number;
  data: Uint8Array;
}

const ALIGN: Record<number, number> = { [RpmType.INT16]: 2, [RpmType.INT32]: 4, [RpmType.INT64]: 8 };
const encoder = new TextEncoder();

function cstrings(values: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = values.map((v) => (typeof v === 'string' ? encoder.encode(v) : v));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + 1;
  }
  return out;
}

/** Constructors for entries of each type. */
export const entry = {
  string: (tag: number, value: string | Uint8Array): EntryData => ({ tag, type: RpmType.STRING, count: 1, data: cstrings([value]) }),
  strings: (tag: number, values: readonly (string | Uint8Array)[]): EntryData => ({ tag, type: RpmType.STRING_ARRAY, count: values.length, data: cstrings(values) }),
  i18n: (tag: number, value: string | Uint8Array): EntryData => ({ tag, type: RpmType.I18NSTRING, count: 1, data: cstrings([value]) }),
  bin: (tag: number, data: Uint8Array): EntryData => ({ tag, type: RpmType.BIN, count: data.length, data }),
  int8: (tag: number, values: readonly number[]): EntryData => ({ tag, type: RpmType.INT8, count: values.length, data: Uint8Array.from(values) }),
  int16: (tag: number, values: readonly number[]): EntryData => {
    const data = new Uint8Array(values.length * 2);
    const dv = new DataView(data.buffer);
    values.forEach((v, i) => dv.setUint16(i * 2, v));
    return { tag, type: RpmType.INT16, count: values.length, data };
  },
  int32: (tag: number, values: readonly number[]): EntryData => {
    const data = new Uint8Array(values.length * 4);
    const dv = new DataView(data.buffer);
    values.forEach((v, i) => dv.setUint32(i * 4, v >>> 0));
    return { tag, type: RpmType.INT32, count: values.length, data };
  },
  int64: (tag: number, values: readonly number[]): EntryData => {
    const data = new Uint8Array(values.length * 8);
    const dv = new DataView(data.buffer);
    values.forEach((v, i) => dv.setBigUint64(i * 8, BigInt(v)));
    return { tag, type: RpmType.INT64, count: values.length, data };
  },
};

/** The entries of a parsed header (without its region tag), data copied as stored. */
export function entriesOf(header: RpmHeader): EntryData[] {
  return header.entries
    .filter((e) => e.tag !== header.regionTag)
    .map((e) => ({ tag: e.tag, type: e.type, count: e.count, data: header.data(e.tag)! }));
}

/** Bytes the store needs for `entries` in the given order (alignment included), trailer excluded. */
export function storeSize(entries: readonly EntryData[]): number {
  let at = 0;
  for (const e of entries) {
    const a = ALIGN[e.type] ?? 1;
    at = Math.ceil(at / a) * a + e.data.length;
  }
  return at;
}

/**
 * Encode a header (magic included). With `regionTag` (62 for signature headers, 63 for the
 * main header), the whole header is one immutable region, as rpm requires of package files.
 */
export function encodeHeader(input: readonly EntryData[], regionTag?: number): Uint8Array {
  const entries = [...input].sort((a, b) => a.tag - b.tag);
  const il = entries.length + (regionTag === undefined ? 0 : 1);
  const dataLen = storeSize(entries);
  const dl = dataLen + (regionTag === undefined ? 0 : 16);
  const out = new Uint8Array(16 + il * 16 + dl);
  out.set(HEADER_MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, il);
  dv.setUint32(12, dl);
  const store = 16 + il * 16;
  let idx = 16;
  const putIndex = (tag: number, type: number, offset: number, count: number) => {
    dv.setUint32(idx, tag);
    dv.setUint32(idx + 4, type);
    dv.setInt32(idx + 8, offset);
    dv.setUint32(idx + 12, count);
    idx += 16;
  };
  if (regionTag !== undefined) {
    putIndex(regionTag, RpmType.BIN, dataLen, 16);
    // trailer: the same tag, offset = minus the size of the region's index
    const t = store + dataLen;
    dv.setUint32(t, regionTag);
    dv.setUint32(t + 4, RpmType.BIN);
    dv.setInt32(t + 8, -(il * 16));
    dv.setUint32(t + 12, 16);
  }
  let at = 0;
  for (const e of entries) {
    const a = ALIGN[e.type] ?? 1;
    at = Math.ceil(at / a) * a;
    putIndex(e.tag, e.type, at, e.count);
    out.set(e.data, store + at);
    at += e.data.length;
  }
  return out;
}
