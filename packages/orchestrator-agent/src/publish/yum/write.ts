import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  checkHeaderDigests, filelistsHead, FILELISTS_TAIL, otherHead, OTHER_TAIL, packageFromRpm,
  primaryHead, PRIMARY_TAIL, readRpm, repodataFileName, repomdXml, RpmFormatError, rpmPrefixLength, RpmTag, signRpm,
  type RepomdRecord, type RpmPackage, type Signer,
} from '@pkgfleet/shared';
import type { FormatSummary, WriteContext } from '../format';
import type { TreeWriter } from '../tree';
import { appendToDocument, buildDocument, type Document } from './documents';
import { fragmentsOf, joinFragments, previousFragments, readLiveDocument, type Fragments, type RepodataPart } from './fragments';
import { readRpmPrefix, type RpmRecord } from './ingest';
import { yumArches, type ChannelChange, type ChannelDocument, type ChannelState, type YumPackage, type YumState } from './state';

/** Everything yum writes lives under this directory of the served tree. */
export const YUM_DIR = 'rpm';
const CHUNK = 1 << 20;
const PARALLEL = 8;

/** The three repodata documents, in repomd.xml's order. */
const REPODATA_PARTS: { type: RepodataPart; head: (n: number) => string; tail: string }[] = [
  { type: 'primary', head: primaryHead, tail: PRIMARY_TAIL },
  { type: 'filelists', head: filelistsHead, tail: FILELISTS_TAIL },
  { type: 'other', head: otherHead, tail: OTHER_TAIL },
];

/** Files up to this size are read and written in one piece (fewer system calls per rpm). */
const WHOLE_FILE = 16 << 20;

/**
 * Sign `source` (an rpm, signed or not) into the tree at `rel`: new lead and signature header,
 * then the original header and payload unchanged. The payload is checked against the header's
 * payload digest on the way, so a damaged input fails here, naming it.
 */
async function signInto(tree: TreeWriter, rel: string, source: string, signer: Signer): Promise<{ sha256: string; size: number; pkg: RpmPackage }> {
  const fh = await open(source, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    let whole: Buffer | undefined;
    let prefixBytes: Uint8Array;
    if (fileSize <= WHOLE_FILE) {
      whole = Buffer.allocUnsafe(fileSize);
      const { bytesRead } = await fh.read(whole, 0, fileSize, 0);
      whole = whole.subarray(0, bytesRead);
      prefixBytes = whole.subarray(0, Math.min(whole.length, rpmPrefixLength(whole, source)));
    } else {
      prefixBytes = await readRpmPrefix(source);
    }
    const rpm = readRpm(prefixBytes, source);
    checkHeaderDigests(rpm);
    const signed = await signRpm(rpm, signer);
    const { headerStart, headerEnd } = rpm.layout;
    const payloadDigest = rpm.header.number(RpmTag.PAYLOADDIGESTALGO) === 8 ? rpm.header.strings(RpmTag.PAYLOADDIGEST)[0] : undefined;
    const sizeTag = rpm.signature.number(1000) ?? rpm.signature.number(270);
    const out = createHash('sha256');
    const payload = createHash('sha256');
    let payloadSize = 0;
    const header = prefixBytes.subarray(headerStart, headerEnd);
    out.update(signed).update(header);
    if (whole) {
      const rest = whole.subarray(headerEnd);
      out.update(rest);
      payload.update(rest);
      payloadSize = rest.length;
      checkPayload();
      await tree.writeFile(rel, Buffer.concat([signed, header, rest]));
    } else {
      async function* chunks(): AsyncGenerator<Uint8Array> {
        yield signed;
        yield header;
        const buf = Buffer.allocUnsafe(CHUNK);
        for (let pos = headerEnd; ;) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
          if (bytesRead === 0) break;
          const c = buf.subarray(0, bytesRead);
          out.update(c);
          payload.update(c);
          payloadSize += bytesRead;
          pos += bytesRead;
          yield c;
        }
        checkPayload();
      }
      await tree.writeChunks(rel, chunks());
    }
    // the signature header may have changed size: header-range is that of the signed file
    const pkg = { ...packageFromRpm(rpm), headerStart: signed.length, headerEnd: signed.length + header.length };
    return { sha256: out.digest('hex'), size: signed.length + header.length + payloadSize, pkg };

    function checkPayload(): void {
      if (payloadDigest !== undefined && payload.digest('hex') !== payloadDigest) {
        throw new RpmFormatError('E_RPM_DIGEST', `${source}: payload does not match the header's payload digest (damaged or truncated file)`, 'copy the file again, or rebuild the package');
      }
      if (sizeTag !== undefined && sizeTag !== headerEnd - headerStart + payloadSize) {
        throw new RpmFormatError('E_RPM_TRUNCATED', `${source}: header and payload are ${headerEnd - headerStart + payloadSize} bytes, the signature header says ${sizeTag}`, 'copy the file again, or rebuild the package');
      }
    }
  } finally {
    await fh.close();
  }
}

/** A package as the state keeps it: version 1's repodata elements are not written again. */
function withoutFragments(p: YumPackage): YumPackage {
  if (!p.signed) return p;
  const { primary: _p, filelists: _f, other: _o, ...signed } = p.signed;
  return { ...p, signed };
}

/**
 * The files of one channel directory (`rpm/<channel>`, paths relative to it) as the new tree gets
 * them from the live one. When the new tree is built over the tree this publish retired
 * (StagingTree's recycled mode) and the live state says how the live channel was made from that
 * tree (`change`), a file the retired tree already holds as the live tree's own (same inode) is
 * kept without a system call, instead of an lstat pair or a link per rpm; what else the retired
 * tree holds there is removed by name, without listing the directory. It lists every file the
 * new channel gets (`files`), and `finish` records, for the next publish, how the new channel is
 * made from the live one.
 */
class ChannelFiles {
  /** Every file put into the new channel: carried over or written. */
  readonly files: string[] = [];
  private readonly kept: Set<string> | undefined;
  private readonly holds: string[] | undefined;
  private readonly fresh = new Set<string>();

  constructor(private readonly tree: TreeWriter, private readonly base: string, private readonly live: ChannelState | undefined) {
    const c = live?.change;
    if (tree.recycledFrom === undefined || !c || c.builtFrom !== tree.recycledFrom || !live.files) return;
    const fresh = new Set(c.fresh);
    this.kept = new Set(live.files.filter((f) => !fresh.has(f)));
    this.holds = [...this.kept, ...c.extra];
  }

  /** Carry `rels` over from the live tree; false if the live tree lacks one. */
  carry(rels: readonly string[]): boolean {
    let linked = true;
    for (const r of rels) linked &&= this.link(r);
    return linked;
  }

  /** Carry `rel` over from the live tree; false if the live tree does not have it. */
  link(rel: string): boolean {
    if (this.kept?.has(rel)) this.tree.keepRecycled(`${this.base}/${rel}`);
    else if (!this.tree.linkPrevious(`${this.base}/${rel}`)) return false;
    this.files.push(rel);
    return true;
  }

  /** `rel` was written by this publish (not a link of the live tree's file). */
  wrote(rel: string): void {
    this.files.push(rel);
    this.fresh.add(rel);
  }

  /** The channel holds `files` (every file, written or carried over): how it was made from the live tree. */
  finish(files: readonly string[], liveId: string | undefined): ChannelChange | undefined {
    const all = new Set(files);
    if (this.holds) this.tree.recycledStale(this.base, this.holds.filter((f) => !all.has(f)));
    if (liveId === undefined) return undefined;
    return {
      builtFrom: liveId,
      fresh: [...this.fresh].sort(),
      extra: (this.live?.files ?? []).filter((f) => !all.has(f) || this.fresh.has(f)),
    };
  }
}

/**
 * Write a small file that rarely changes (a .repo file): when the live tree holds the same
 * bytes, carry that file over instead (already durable: no write, no fsync).
 */
async function writeOrKeep(tree: TreeWriter, channel: ChannelFiles, base: string, rel: string, text: string): Promise<void> {
  if (tree.previousDir) {
    let live: string | undefined;
    try {
      live = await readFile(join(tree.previousDir, base, rel), 'utf8');
    } catch {
      // not in the live tree: written below
    }
    if (live === text && channel.link(rel)) return;
  }
  await tree.writeFile(`${base}/${rel}`, text);
  channel.wrote(rel);
}

/** Arch repositories a package goes into. */
function archesOf(p: YumPackage, arches: readonly string[]): string[] {
  return p.arch === 'noarch' ? [...arches] : arches.filter((a) => a === p.arch);
}

/** The .repo file users drop into /etc/yum.repos.d/. */
export function repoFile(o: { id: string; name: string; baseurl: string; gpgkey: string }): string {
  return `[${o.id}]\nname=${o.name}\nbaseurl=${o.baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=${o.gpgkey}\nmetadata_expire=6h\n`;
}

/**
 * The three documents of one arch repository by appending to the live ones (documents.ts): when
 * the live repository's documents are laid out for it and every package they list (`live`, the
 * live state's package objects, which the new state shares) is still in the repository, signed
 * the same (not in `resigned`), only the new packages' elements are compressed. Undefined
 * otherwise: the documents are then built whole.
 */
async function appendDocuments(liveArchDir: string, layouts: Record<RepodataPart, ChannelDocument> | undefined, live: readonly YumPackage[], resigned: ReadonlySet<YumPackage>, pkgs: readonly YumPackage[], frags: ReadonlyMap<YumPackage, Fragments>): Promise<Record<RepodataPart, Document> | undefined> {
  if (!layouts) return undefined;
  const now = new Set(pkgs);
  if (!live.every((p) => now.has(p) && !resigned.has(p))) return undefined;
  const had = new Set(live);
  const added = pkgs.filter((p) => !had.has(p));
  if (!added.every((p) => frags.has(p))) return undefined;
  const docs = await Promise.all(REPODATA_PARTS.map(({ type }) => layouts[type] && readLiveDocument(join(liveArchDir, layouts[type].href))));
  const [primary, filelists, other] = REPODATA_PARTS.map(({ type, head, tail }, i) =>
    docs[i] && appendToDocument(docs[i], layouts[type], head(live.length), head(pkgs.length), joinFragments(added.map((p) => frags.get(p)![type])), tail));
  return primary && filelists && other ? { primary, filelists, other } : undefined;
}

/**
 * Write the yum part of the new tree. The published channel gets its signed rpms (linked when
 * already signed with this key, signed from the input otherwise), then per arch repodata/,
 * repomd.xml, repomd.xml.asc and a .repo file. Other channels are carried over unchanged.
 */
export async function writeYum(
  previous: YumState,
  state: YumState,
  inputs: ReadonlyMap<string, RpmRecord>,
  ctx: WriteContext,
): Promise<FormatSummary> {
  const { tree, settings, signer } = ctx;
  const arches = yumArches(settings.architectures);
  const added: string[] = [];
  const metadata: string[] = [];
  const channels: Record<string, ChannelState> = {};
  for (const [channel, cs] of Object.entries(state.channels)) {
    const base = `${YUM_DIR}/${channel}`;
    const prev = previous.channels[channel];
    const carried = new ChannelFiles(tree, base, prev);
    // another channel is carried over as it is, unless the signing key changed: then its rpms
    // and metadata are signed again, or dnf would refuse them against the published key
    const sameKey = cs.packages.every((p) => p.signed?.fingerprint === signer.fingerprint);
    if (channel !== ctx.suite && prev?.files && tree.previousDir && sameKey) {
      for (const f of prev.files) carried.link(f);
      const { change: _c, ...kept } = prev;
      channels[channel] = { ...kept, packages: cs.packages.map(withoutFragments), ...optional('change', carried.finish(prev.files, ctx.previousId)) };
      continue;
    }
    /** Each package's <package> elements, for the documents written below. */
    const frags = new Map<YumPackage, Fragments>();
    const now = Math.floor(ctx.now.getTime() / 1000);
    // the packages published before are the live state's objects (planYum keeps them): their
    // `signed` is what the live tree holds, until this publish signs them again
    const resigned = new Set<YumPackage>();

    // 1. the signed rpms: those signed with this key before are carried over from the live tree
    // (a thousand of them in one synchronous pass when the retired tree already holds them), the
    // others are signed by a few parallel tasks
    const t0 = performance.now();
    const toSign: YumPackage[] = [];
    for (const p of cs.packages) {
      const dirs = archesOf(p, arches);
      const old = p.signed;
      const rels = dirs.map((a) => `${a}/${p.href}`);
      if (old && old.fingerprint === signer.fingerprint && tree.previousDir) {
        if (carried.carry(rels)) {
          p.signed = old;
          if (old.primary !== undefined && old.filelists !== undefined && old.other !== undefined) {
            frags.set(p, { primary: Buffer.from(old.primary), filelists: Buffer.from(old.filelists), other: Buffer.from(old.other) });
          }
          continue;
        }
      }
      toSign.push(p);
    }
    const sign = async () => {
      for (let p = toSign.pop(); p; p = toSign.pop()) {
        ctx.signal.throwIfAborted();
        const dirs = archesOf(p, arches);
        const old = p.signed;
        if (old) resigned.add(p);
        // new, signed with another key before, or missing from the live tree: sign it
        const input = inputs.get(p.headerSha256)?.input
          ?? (tree.previousDir && old ? join(tree.previousDir, base, dirs[0]!, p.href) : undefined);
        if (!input) throw new Error(`yum: ${p.href} is neither among the inputs nor in the live tree`);
        const first = `${base}/${dirs[0]}/${p.href}`;
        const r = await signInto(tree, first, input, signer);
        for (const a of dirs.slice(1)) await tree.linkWithin(`${base}/${a}/${p.href}`, first);
        const file = { href: p.href, sha256: r.sha256, size: r.size, mtime: now };
        p.signed = { sha256: r.sha256, size: r.size, time: now, fingerprint: signer.fingerprint };
        frags.set(p, fragmentsOf(r.pkg, file));
        for (const a of dirs) carried.wrote(`${a}/${p.href}`);
        if (inputs.has(p.headerSha256)) added.push(`${base}/${dirs[0]}/${p.href}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, sign));
    const t1 = performance.now();

    // 2. repodata per arch repository: appended to the live documents when only packages were
    // added, else built whole from every package's elements (compressed on libuv's thread pool)
    const repos = arches.map((arch) => ({ arch, pkgs: cs.packages.filter((p) => p.arch === arch || p.arch === 'noarch') }));
    const appended = await Promise.all(repos.map(({ arch, pkgs }) =>
      prev && tree.previousDir ? appendDocuments(join(tree.previousDir, base, arch), prev.docs?.[arch], prev.packages.filter((p) => p.arch === arch || p.arch === 'noarch'), resigned, pkgs, frags) : undefined));
    // the packages carried over into a document built whole: their elements from the live
    // repodata, else from their headers
    const missing = repos.filter((_, i) => !appended[i]).flatMap((r) => r.pkgs).filter((p) => !frags.has(p));
    if (missing.length > 0) {
      const live = tree.previousDir && prev?.files ? await previousFragments(join(tree.previousDir, base), prev.files) : new Map<string, Partial<Fragments>>();
      for (const p of missing) {
        if (frags.has(p)) continue; // noarch: in both arch repositories
        const s = p.signed!;
        const f = live.get(s.sha256);
        if (f?.primary && f.filelists && f.other) {
          frags.set(p, { primary: f.primary, filelists: f.filelists, other: f.other });
          continue;
        }
        const path = join(tree.dir, base, archesOf(p, arches)[0]!, p.href);
        const pkg = packageFromRpm(readRpm(await readRpmPrefix(path), path));
        frags.set(p, fragmentsOf(pkg, { href: p.href, sha256: s.sha256, size: s.size, mtime: s.time }));
      }
    }
    const built = await Promise.all(repos.map(async ({ pkgs }, i) => appended[i] ?? Object.fromEntries(await Promise.all(
      REPODATA_PARTS.map(async ({ type, head, tail }) => [type, await buildDocument(head(pkgs.length), joinFragments(pkgs.map((p) => frags.get(p)![type])), tail)] as const),
    )) as Record<RepodataPart, Document>));

    const docs: Record<string, Record<RepodataPart, ChannelDocument>> = {};
    for (const [i, { arch }] of repos.entries()) {
      const records: RepomdRecord[] = [];
      docs[arch] = {} as Record<RepodataPart, ChannelDocument>;
      for (const { type } of REPODATA_PARTS) {
        const d = built[i]![type];
        const checksum = createHash('sha256').update(d.gz).digest('hex');
        const href = `repodata/${repodataFileName(type, checksum)}`;
        await tree.writeFile(`${base}/${arch}/${href}`, d.gz);
        carried.wrote(`${arch}/${href}`);
        records.push({ type, href, checksum, size: d.gz.length, openChecksum: d.openChecksum, openSize: d.openSize, timestamp: now });
        docs[arch][type] = { href, ...d.layout };
      }
      const repomd = Buffer.from(repomdXml(now, records));
      await tree.writeFile(`${base}/${arch}/repodata/repomd.xml`, repomd);
      await tree.writeFile(`${base}/${arch}/repodata/repomd.xml.asc`, await signer.signDetachedArmored(repomd));
      carried.wrote(`${arch}/repodata/repomd.xml`);
      carried.wrote(`${arch}/repodata/repomd.xml.asc`);
      metadata.push(`${base}/${arch}/repodata/repomd.xml`);

      const url = (settings.baseUrl ?? `file://${dirname(dirname(tree.dir))}/current`).replace(/\/+$/, '');
      const name = `${settings.keyName}-${channel}-${arch}`;
      await writeOrKeep(tree, carried, base, `${name}.repo`, repoFile({
        id: name,
        name: `${settings.keyName} ${channel} (${arch})`,
        baseurl: `${url}/${base}/${arch}/`,
        gpgkey: `${url}/gpg/${settings.keyName}.asc`,
      }));
    }
    ctx.logger.debug('yum channel written', { channel, packages: cs.packages.length, signMs: Math.round(t1 - t0), repodataMs: Math.round(performance.now() - t1), appended: appended.filter(Boolean).length });
    const files = carried.files.sort();
    channels[channel] = { packages: cs.packages.map(withoutFragments), files, docs, ...optional('change', carried.finish(files, ctx.previousId)) };
  }
  state.channels = channels;
  const before = new Set((previous.channels[ctx.suite]?.packages ?? []).map((p) => p.href));
  const after = new Set((state.channels[ctx.suite]?.packages ?? []).map((p) => p.href));
  return {
    format: 'yum',
    packages: Object.values(state.channels).reduce((n, c) => n + c.packages.length, 0),
    added,
    removed: [...before].filter((h) => !after.has(h)).map((h) => `${YUM_DIR}/${ctx.suite}/${h}`),
    metadata,
  };
}

/** `{ [key]: value }`, or nothing when value is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): { [k in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [k in K]: V });
}
