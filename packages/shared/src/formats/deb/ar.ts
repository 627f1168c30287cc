/**
 * The ar(5) container of .deb files ("!<arch>\n", then per member a 60-byte header:
 * name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n", data padded to an even offset).
 * Pure: works on a prefix of the file so that a reader can stop once it has the members it needs.
 */
export const AR_MAGIC = '!<arch>\n';
const HEADER = 60;

export interface ArMember {
  name: string;
  /** Offset of the member's data in the file. */
  offset: number;
  size: number;
}

export type ArScan =
  | { ok: true; members: ArMember[]; /** true when the scan reached the end of the file */ complete: boolean }
  | { ok: false; problem: string };

/**
 * List the members whose headers lie inside `head` (the first bytes of a file of `total` bytes).
 * Members whose data extend past `head` are listed too: check `offset + size <= head.length`.
 */
export function scanAr(head: Uint8Array, total: number): ArScan {
  if (total < AR_MAGIC.length || Buffer.from(head.subarray(0, 8)).toString('latin1') !== AR_MAGIC) {
    return { ok: false, problem: 'not an ar archive (no "!<arch>" header)' };
  }
  const members: ArMember[] = [];
  let pos = AR_MAGIC.length;
  while (pos < total) {
    if (pos + HEADER > head.length) return { ok: true, members, complete: false };
    if (pos + HEADER > total) return { ok: false, problem: `truncated ar member header at offset ${pos}` };
    const h = Buffer.from(head.subarray(pos, pos + HEADER)).toString('latin1');
    if (h.slice(58, 60) !== '`\n') return { ok: false, problem: `bad ar member header at offset ${pos}` };
    const sizeText = h.slice(48, 58).trim();
    if (!/^[0-9]+$/.test(sizeText)) return { ok: false, problem: `bad ar member size "${sizeText}" at offset ${pos}` };
    const size = Number(sizeText);
    // GNU ar ends names with "/"; dpkg writes plain names padded with spaces
    const name = h.slice(0, 16).trimEnd().replace(/\/$/, '');
    const offset = pos + HEADER;
    if (offset + size > total) return { ok: false, problem: `ar member "${name}" claims ${size} bytes but the file ends after ${total - offset} (truncated file?)` };
    members.push({ name, offset, size });
    pos = offset + size + (size % 2);
  }
  return { ok: true, members, complete: true };
}
