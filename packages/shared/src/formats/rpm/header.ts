import { FormatError } from '../../errors';
import { RpmType, Tag, SigTag } from './tags';

/**
 * The rpm file format (rpm.org/devel_doc/file_format.html): a 96-byte lead, the signature
 * header (padded to 8 bytes), the main header, then the compressed payload. Both headers are
 * `8E AD E8 01` + 4 reserved bytes + index count + store size + 16-byte index entries + store.
 *
 * Pure: bytes in, records out. Every count is checked against the bytes that are actually
 * there (and against rpm's own limits) before anything is allocated or read.
 */

export class RpmFormatError extends FormatError {}

export const LEAD_SIZE = 96;
const LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb];
export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0);
const ENTRY_SIZE = 16;
const INTRO_SIZE = 16;
/** rpm's HEADER_TAGS_MAX and HEADER_DATA_MAX (lib/header_internal.h). */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 256 * 1024 * 1024;
/** rpm reads at most 32 signature tags (lib/header.c: hdrblobRead). */
const SIG_MAX_ENTRIES = 32;
const SIG_MAX_DATA = 64 * 1024 * 1024;

const HINT_NOT_RPM = 'pass .rpm files made by rpmbuild (or a tool that writes the rpm v3 file format)';

export interface RpmLead {
  major: number;
  minor: number;
  /** 0 binary, 1 source. The main header (SOURCEPACKAGE) is authoritative, not this. */
  type: number;
  archnum: number;
  /** NEVR as the builder wrote it (informational, at most 65 bytes). */
  name: string;
  osnum: number;
  signatureType: number;
}

export interface IndexEntry {
  tag: number;
  type: number;
  /** Offset in the store. */
  offset: number;
  count: number;
  /** Length in bytes of the entry's data in the store. */
  length: number;
}

const decoderUtf8 = new TextDecoder('utf-8', { fatal: true });
const decoderLatin1 = new TextDecoder('latin1');

/**
 * rpm strings are bytes. Most are UTF-8; old packages carry Latin-1 (createrepo_c converts
 * those from ISO-8859-1 when they are not valid UTF-8; so do we).
 */
export function decodeRpmString(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) { ascii = false; break; }
  if (ascii) return decoderLatin1.decode(bytes);
  try {
    return decoderUtf8.decode(bytes);
  } catch {
    return decoderLatin1.decode(bytes);
  }
}

/** A parsed header: the index and a view of the store. Values are decoded on demand. */
export class RpmHeader {
  private readonly byTag = new Map<number, IndexEntry>();

  constructor(
    /** The header's bytes from its magic to the end of its store (a view, not a copy). */
    readonly bytes: Uint8Array,
    readonly entries: readonly IndexEntry[],
    /** Offset of the store within `bytes`. */
    readonly storeStart: number,
    /** Region tag (62 signature, 63 immutable) when the header has one. */
    readonly regionTag: number | undefined,
    readonly what: string,
  ) {
    for (const e of entries) if (!this.byTag.has(e.tag)) this.byTag.set(e.tag, e);
  }

  has(tag: number): boolean {
    return this.byTag.has(tag);
  }

  entry(tag: number): IndexEntry | undefined {
    return this.byTag.get(tag);
  }

  /** The entry's bytes in the store (a view). */
  data(tag: number): Uint8Array | undefined {
    const e = this.byTag.get(tag);
    if (!e) return undefined;
    const start = this.storeStart + e.offset;
    return this.bytes.subarray(start, start + e.length);
  }

  private view(): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  /** Numbers of an INT8/INT16/INT32/INT64/CHAR entry; [] when absent. */
  numbers(tag: number): number[] {
    const e = this.byTag.get(tag);
    if (!e) return [];
    const dv = this.view();
    const base = this.storeStart + e.offset;
    const out = new Array<number>(e.count);
    switch (e.type) {
      case RpmType.CHAR:
      case RpmType.INT8:
        for (let i = 0; i < e.count; i++) out[i] = dv.getUint8(base + i);
        return out;
      case RpmType.INT16:
        for (let i = 0; i < e.count; i++) out[i] = dv.getUint16(base + 2 * i);
        return out;
      case RpmType.INT32:
        for (let i = 0; i < e.count; i++) out[i] = dv.getUint32(base + 4 * i);
        return out;
      case RpmType.INT64:
        for (let i = 0; i < e.count; i++) {
          const v = dv.getBigUint64(base + 8 * i);
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`tag ${tag}: 64-bit value ${v} is too large`);
          out[i] = Number(v);
        }
        return out;
      default:
        throw this.fail(`tag ${tag} has type ${e.type}, expected a number`);
    }
  }

  number(tag: number): number | undefined {
    return this.has(tag) ? this.numbers(tag)[0] : undefined;
  }

  /** Raw bytes of each string of a STRING, STRING_ARRAY or I18NSTRING entry. */
  stringBytes(tag: number): Uint8Array[] {
    const e = this.byTag.get(tag);
    if (!e) return [];
    if (e.type !== RpmType.STRING && e.type !== RpmType.STRING_ARRAY && e.type !== RpmType.I18NSTRING) {
      throw this.fail(`tag ${tag} has type ${e.type}, expected a string`);
    }
    const out: Uint8Array[] = [];
    let p = this.storeStart + e.offset;
    for (let i = 0; i < e.count; i++) {
      const end = this.bytes.indexOf(0, p);
      // bounds were checked at parse time; this cannot run past the entry
      out.push(this.bytes.subarray(p, end));
      p = end + 1;
    }
    return out;
  }

  strings(tag: number): string[] {
    return this.stringBytes(tag).map(decodeRpmString);
  }

  /** A STRING, or the first (C locale) value of an I18NSTRING or STRING_ARRAY. */
  string(tag: number): string | undefined {
    const e = this.byTag.get(tag);
    if (!e) return undefined;
    const first = this.stringBytes(tag)[0];
    return first === undefined ? undefined : decodeRpmString(first);
  }

  private fail(problem: string): RpmFormatError {
    return new RpmFormatError('E_RPM_HEADER', `${this.what}: ${problem}`, HINT_NOT_RPM);
  }
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function i32(b: Uint8Array, at: number): number {
  return u32(b, at) | 0;
}

const FIXED_SIZE: Record<number, number> = {
  [RpmType.NULL]: 0,
  [RpmType.CHAR]: 1,
  [RpmType.INT8]: 1,
  [RpmType.INT16]: 2,
  [RpmType.INT32]: 4,
  [RpmType.INT64]: 8,
  [RpmType.BIN]: 1,
};

/** Sizes of a header starting at `at`, or undefined when fewer than 16 bytes are there. */
function headerIntro(buf: Uint8Array, at: number, what: string, sig: boolean): { il: number; dl: number; total: number } | undefined {
  if (buf.length < at + INTRO_SIZE) return undefined;
  for (let i = 0; i < 4; i++) {
    if (buf[at + i] !== HEADER_MAGIC[i]) {
      throw new RpmFormatError('E_RPM_MAGIC', `${what}: bad header magic at byte ${at} (not 8e ad e8 01)`, HINT_NOT_RPM);
    }
  }
  const il = u32(buf, at + 8);
  const dl = u32(buf, at + 12);
  const maxIl = sig ? SIG_MAX_ENTRIES : MAX_ENTRIES;
  const maxDl = sig ? SIG_MAX_DATA : MAX_DATA;
  if (il < 1 || il > maxIl) {
    throw new RpmFormatError('E_RPM_LIMIT', `${what}: absurd index count ${il} (rpm allows 1..${maxIl})`, HINT_NOT_RPM);
  }
  if (dl > maxDl) {
    throw new RpmFormatError('E_RPM_LIMIT', `${what}: absurd store size ${dl} bytes (rpm allows at most ${maxDl})`, HINT_NOT_RPM);
  }
  return { il, dl, total: INTRO_SIZE + il * ENTRY_SIZE + dl };
}

/**
 * Parse one header at `at`. Checks, like rpm's hdrblobVerifyInfo: known types, aligned
 * offsets, every entry's data inside the store, entries laid out without overlap, strings
 * NUL-terminated inside the store, the region trailer.
 */
export function parseHeader(buf: Uint8Array, at: number, what: string, sig = false): RpmHeader {
  const intro = headerIntro(buf, at, what, sig);
  if (!intro || buf.length < at + intro.total) {
    throw new RpmFormatError('E_RPM_TRUNCATED', `${what}: truncated (the header needs ${intro?.total ?? INTRO_SIZE} bytes at byte ${at}, the file has ${Math.max(0, buf.length - at)})`, 'the file was cut short: copy it again');
  }
  const { il, dl } = intro;
  const bytes = buf.subarray(at, at + intro.total);
  const storeStart = INTRO_SIZE + il * ENTRY_SIZE;
  const fail = (problem: string) => new RpmFormatError('E_RPM_HEADER', `${what}: ${problem}`, HINT_NOT_RPM);
  const entries: IndexEntry[] = [];
  let regionTag: number | undefined;
  let end = 0;
  for (let i = 0; i < il; i++) {
    const p = INTRO_SIZE + i * ENTRY_SIZE;
    const tag = u32(bytes, p);
    const type = u32(bytes, p + 4);
    const offset = i32(bytes, p + 8);
    const count = u32(bytes, p + 12);
    if (i === 0 && (tag === Tag.HEADERSIGNATURES || tag === Tag.HEADERIMMUTABLE || tag === Tag.HEADERIMAGE)) {
      if (type !== RpmType.BIN || count !== 16) throw fail(`region tag ${tag}: bad type ${type} or count ${count}`);
      if (offset < 0 || offset + 16 > dl) throw fail(`region tag ${tag}: trailer at ${offset} lies outside the ${dl}-byte store`);
      const t = storeStart + offset;
      const ttag = u32(bytes, t);
      const toff = -i32(bytes, t + 8);
      if (ttag !== tag || u32(bytes, t + 4) !== RpmType.BIN || u32(bytes, t + 12) !== 16 || toff % ENTRY_SIZE !== 0 || toff / ENTRY_SIZE > il || toff <= 0) {
        throw fail(`region tag ${tag}: bad trailer`);
      }
      regionTag = tag;
      entries.push({ tag, type, offset, count, length: 16 });
      continue;
    }
    if (type < RpmType.CHAR || type > RpmType.I18NSTRING) throw fail(`entry ${i} (tag ${tag}): unknown type ${type}`);
    if (offset < 0 || offset >= dl) throw fail(`entry ${i} (tag ${tag}): data offset ${offset} lies outside the ${dl}-byte store`);
    if (count < 1 || count > dl) throw fail(`entry ${i} (tag ${tag}): absurd count ${count} for a ${dl}-byte store`);
    if (offset < end) throw fail(`entry ${i} (tag ${tag}): data at ${offset} overlaps the previous entry`);
    const size = FIXED_SIZE[type];
    let length: number;
    if (size !== undefined) {
      if (offset % Math.max(size, 1) !== 0) throw fail(`entry ${i} (tag ${tag}): offset ${offset} not aligned for type ${type}`);
      length = size * count;
      if (offset + length > dl) throw fail(`entry ${i} (tag ${tag}): ${length} bytes of data at ${offset} run past the ${dl}-byte store`);
    } else {
      if (type === RpmType.STRING && count !== 1) throw fail(`entry ${i} (tag ${tag}): STRING with count ${count}`);
      let q = storeStart + offset;
      const storeEnd = storeStart + dl;
      for (let s = 0; s < count; s++) {
        const z = bytes.indexOf(0, q);
        if (z < 0 || z >= storeEnd) throw fail(`entry ${i} (tag ${tag}): string ${s + 1} of ${count} is not terminated inside the store`);
        q = z + 1;
      }
      length = q - storeStart - offset;
    }
    end = offset + length;
    entries.push({ tag, type, offset, count, length });
  }
  return new RpmHeader(bytes, entries, storeStart, regionTag, what);
}

/** The byte ranges of an rpm file's parts. */
export interface RpmLayout {
  lead: RpmLead;
  /** The signature header starts right after the lead (byte 96). */
  signatureStart: number;
  signatureEnd: number;
  /** Start of the main header (after the signature header and its padding). */
  headerStart: number;
  /** End of the main header = start of the payload. */
  headerEnd: number;
}

function parseLead(buf: Uint8Array, file: string): RpmLead {
  if (buf.length < 4 || LEAD_MAGIC.some((m, i) => buf[i] !== m)) {
    throw new RpmFormatError('E_RPM_MAGIC', `${file}: not an rpm file (no lead magic ed ab ee db)`, HINT_NOT_RPM);
  }
  if (buf.length < LEAD_SIZE) {
    throw new RpmFormatError('E_RPM_TRUNCATED', `${file}: truncated (${buf.length} bytes, shorter than the 96-byte lead)`, 'the file was cut short: copy it again');
  }
  const major = buf[4]!;
  if (major !== 3 && major !== 4) {
    throw new RpmFormatError('E_RPM_VERSION', `${file}: rpm file format ${major}.${buf[5]} is not supported (3.0 is)`, HINT_NOT_RPM);
  }
  const nameEnd = buf.subarray(10, 76).indexOf(0);
  const signatureType = (buf[78]! << 8) | buf[79]!;
  if (signatureType !== 5) {
    throw new RpmFormatError('E_RPM_VERSION', `${file}: lead signature type ${signatureType} (only header-style signatures, type 5, exist since rpm 3)`, HINT_NOT_RPM);
  }
  return {
    major,
    minor: buf[5]!,
    type: (buf[6]! << 8) | buf[7]!,
    archnum: (buf[8]! << 8) | buf[9]!,
    name: decodeRpmString(buf.subarray(10, 10 + (nameEnd < 0 ? 66 : nameEnd))),
    osnum: (buf[76]! << 8) | buf[77]!,
    signatureType,
  };
}

/** Padding after the signature header so that the main header starts on 8 bytes. */
export function signaturePadding(sigHeaderLength: number): number {
  return (8 - (sigHeaderLength % 8)) % 8;
}

/**
 * How many leading bytes of the file hold the lead and both headers. With fewer bytes than
 * that, returns the number needed so far (read more and ask again); with enough, returns the
 * exact length. Throws on bad magic or absurd sizes as soon as they are visible.
 */
export function rpmPrefixLength(buf: Uint8Array, file: string): number {
  if (buf.length < LEAD_SIZE) {
    // fail early on non-rpm input
    if (buf.length >= 4 && LEAD_MAGIC.some((m, i) => buf[i] !== m)) parseLead(buf, file);
    return LEAD_SIZE + INTRO_SIZE;
  }
  parseLead(buf, file);
  const sig = headerIntro(buf, LEAD_SIZE, `${file}: signature header`, true);
  if (!sig) return LEAD_SIZE + INTRO_SIZE;
  const headerStart = LEAD_SIZE + sig.total + signaturePadding(sig.total);
  const hdr = headerIntro(buf, headerStart, `${file}: header`, false);
  if (!hdr) return headerStart + INTRO_SIZE;
  return headerStart + hdr.total;
}

/** A parsed rpm file prefix: lead, signature header and main header. */
export interface RpmFile {
  file: string;
  layout: RpmLayout;
  /** The 96 lead bytes as stored (a view). */
  leadBytes: Uint8Array;
  signature: RpmHeader;
  header: RpmHeader;
}

/** Parse lead, signature header and header from the first bytes of an rpm (payload not needed). */
export function readRpm(buf: Uint8Array, file: string): RpmFile {
  const lead = parseLead(buf, file);
  const signature = parseHeader(buf, LEAD_SIZE, `${file}: signature header`, true);
  const signatureEnd = LEAD_SIZE + signature.bytes.length;
  const headerStart = signatureEnd + signaturePadding(signature.bytes.length);
  if (buf.length < headerStart) {
    throw new RpmFormatError('E_RPM_TRUNCATED', `${file}: truncated after the signature header`, 'the file was cut short: copy it again');
  }
  const header = parseHeader(buf, headerStart, `${file}: header`, false);
  if (header.regionTag !== undefined && header.regionTag !== Tag.HEADERIMMUTABLE) {
    throw new RpmFormatError('E_RPM_HEADER', `${file}: header: region tag ${header.regionTag} where rpm expects ${Tag.HEADERIMMUTABLE}`, HINT_NOT_RPM);
  }
  if (signature.regionTag !== undefined && signature.regionTag !== Tag.HEADERSIGNATURES) {
    throw new RpmFormatError('E_RPM_HEADER', `${file}: signature header: region tag ${signature.regionTag} where rpm expects ${Tag.HEADERSIGNATURES}`, HINT_NOT_RPM);
  }
  return {
    file,
    layout: { lead, signatureStart: LEAD_SIZE, signatureEnd, headerStart, headerEnd: headerStart + header.bytes.length },
    leadBytes: buf.subarray(0, LEAD_SIZE),
    signature,
    header,
  };
}

/** The OpenPGP signatures an rpm carries in its signature header, by tag. */
export function signatureTagsPresent(sig: RpmHeader): number[] {
  return [SigTag.DSA, SigTag.RSA, SigTag.PGP, SigTag.GPG, SigTag.PGP5, SigTag.OPENPGP].filter((t) => sig.has(t));
}
