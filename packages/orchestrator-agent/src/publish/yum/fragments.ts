import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { filelistsPackage, otherPackage, primaryPackage, type RpmPackage, type YumPackageFile } from '@pkgfleet/shared';

/**
 * The <package> elements of one rpm in primary, filelists and other (UTF-8). A repodata
 * document is its head, the elements of its packages in repository order, and its tail, so
 * adding one rpm to a channel reuses every other package's elements as bytes.
 */
export type RepodataPart = 'primary' | 'filelists' | 'other';
export type Fragments = Record<RepodataPart, Buffer>;

const OPEN = Buffer.from('<package ');
const CLOSE = Buffer.from('</package>\n');
/** Where each document names the package id (the signed file's SHA-256). */
const PKGID: Record<RepodataPart, Buffer> = {
  primary: Buffer.from('<checksum type="sha256" pkgid="YES">'),
  filelists: Buffer.from('<package pkgid="'),
  other: Buffer.from('<package pkgid="'),
};

export function fragmentsOf(pkg: RpmPackage, file: YumPackageFile): Fragments {
  return {
    primary: Buffer.from(primaryPackage(pkg, file)),
    filelists: Buffer.from(filelistsPackage(pkg, file)),
    other: Buffer.from(otherPackage(pkg, file)),
  };
}

/**
 * Split a primary/filelists/other document that this writer made into its <package> elements,
 * by package id (views into `doc`, no copies). The element text cannot contain `<package `:
 * text and attributes are XML-escaped. A document that does not have this shape yields no
 * elements for its broken part; the caller rebuilds those from the rpm headers.
 */
export function splitPackages(doc: Buffer, part: RepodataPart): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const marker = PKGID[part];
  for (let start = doc.indexOf(OPEN); start >= 0;) {
    const close = doc.indexOf(CLOSE, start);
    if (close < 0) break;
    const end = close + CLOSE.length;
    const next = doc.indexOf(OPEN, start + OPEN.length);
    if (next >= 0 && next < close) break; // not our layout: stop, the rest is rebuilt
    const at = doc.indexOf(marker, start);
    if (at >= 0 && at < close) {
      const id = doc.toString('latin1', at + marker.length, at + marker.length + 64);
      if (/^[0-9a-f]{64}$/.test(id) && !out.has(id)) out.set(id, doc.subarray(start, end));
    }
    start = next;
  }
  return out;
}

/**
 * Buffer.concat, but neighbours that are adjacent views of one buffer (the packages that follow
 * each other in the live document, mostly all of them) are copied as one piece.
 */
export function joinFragments(parts: readonly Buffer[]): Buffer {
  const runs: Buffer[] = [];
  for (const p of parts) {
    const last = runs.at(-1);
    if (last && last.buffer === p.buffer && last.byteOffset + last.length === p.byteOffset) {
      runs[runs.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + p.length);
    } else {
      runs.push(p);
    }
  }
  return Buffer.concat(runs);
}

const REPODATA_FILE = /^[^/]+\/repodata\/([0-9a-f]{64})-(primary|filelists|other)\.xml\.gz$/;
/** The SHA-256 a repodata file is named by. */
const NAMED_SHA256 = /(?:^|\/)([0-9a-f]{64})-[a-z]+\.xml\.gz$/;

/**
 * A repodata file of the live tree, if it is there and still holds what its name says (the
 * SHA-256 in it); undefined otherwise (the caller then builds what it needs some other way).
 */
export async function readLiveDocument(path: string): Promise<Buffer | undefined> {
  const m = NAMED_SHA256.exec(path);
  if (!m) return undefined;
  try {
    const gz = await readFile(path);
    return createHash('sha256').update(gz).digest('hex') === m[1] ? gz : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The elements of every package in the live channel's repodata (`files` as listed in the
 * channel's state, relative to `dir`), by package id. Each document is checked against the
 * SHA-256 in its name first; one that is missing or does not match is skipped (its packages'
 * elements are then rebuilt from their rpm headers, which costs a header read each).
 */
export async function previousFragments(dir: string, files: readonly string[]): Promise<Map<string, Partial<Fragments>>> {
  const out = new Map<string, Partial<Fragments>>();
  const docs = await Promise.all(files.map(async (f) => {
    const m = REPODATA_FILE.exec(f);
    const gz = m && (await readLiveDocument(join(dir, f)));
    if (!gz) return undefined;
    try {
      // synchronous: a few MB, and a cold thread pool costs more than it saves here
      return { part: m[2] as RepodataPart, doc: gunzipSync(gz) };
    } catch {
      return undefined;
    }
  }));
  for (const d of docs) {
    if (!d) continue;
    for (const [id, frag] of splitPackages(d.doc, d.part)) {
      const entry = out.get(id) ?? out.set(id, {}).get(id)!;
      entry[d.part] ??= frag;
    }
  }
  return out;
}
