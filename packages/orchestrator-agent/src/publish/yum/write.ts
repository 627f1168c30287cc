import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  checkHeaderDigests, filelistsHead, FILELISTS_TAIL, otherHead, OTHER_TAIL, packageFromRpm,
  primaryHead, PRIMARY_TAIL, readRpm, repodataFileName, repomdXml, RpmFormatError, rpmPrefixLength, RpmTag, signRpm,
  type RepodataType, type RepomdRecord, type RpmPackage, type Signer,
} from '@pkgfleet/shared';
import type { FormatSummary, WriteContext } from '../format';
import type { TreeWriter } from '../tree';
import { fragmentsOf, joinFragments, previousFragments, type Fragments } from './fragments';
import { readRpmPrefix, type RpmRecord } from './ingest';
import { yumArches, type ChannelState, type YumPackage, type YumState } from './state';

/** Everything yum writes lives under this directory of the served tree. */
export const YUM_DIR = 'rpm';
/**
 * gzip level of the repodata files. createrepo_c's (zlib's default, 6) would cost more than
 * signing them; 2 takes half the time of 4 and the files stay within ~10% of createrepo_c's
 * size (for 1000 rpms: primary 55 KiB vs 49, filelists 64 vs 60, other 30 vs 30).
 */
const GZIP_LEVEL = 2;
const CHUNK = 1 << 20;
const PARALLEL = 8;

const gzipAsync = promisify(gzip);

/** The three repodata documents, in repomd.xml's order. */
const REPODATA_PARTS: { type: RepodataType & keyof Fragments; head: (n: number) => string; tail: string }[] = [
  { type: 'primary', head: primaryHead, tail: PRIMARY_TAIL },
  { type: 'filelists', head: filelistsHead, tail: FILELISTS_TAIL },
  { type: 'other', head: otherHead, tail: OTHER_TAIL },
];

const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

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
 * Write a small file that rarely changes (a .repo file): when the live tree holds the same
 * bytes, link that file instead (already durable: no write, no fsync).
 */
async function writeOrKeep(tree: TreeWriter, rel: string, text: string): Promise<void> {
  if (tree.previousDir) {
    let live: string | undefined;
    try {
      live = await readFile(join(tree.previousDir, rel), 'utf8');
    } catch {
      // not in the live tree: written below
    }
    if (live === text && (await tree.linkPrevious(rel))) return;
  }
  await tree.writeFile(rel, text);
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
    // another channel is carried over as it is, unless the signing key changed: then its rpms
    // and metadata are signed again, or dnf would refuse them against the published key
    const sameKey = cs.packages.every((p) => p.signed?.fingerprint === signer.fingerprint);
    if (channel !== ctx.suite && prev?.files && tree.previousDir && sameKey) {
      for (const f of prev.files) await tree.linkPrevious(`${base}/${f}`);
      channels[channel] = { packages: cs.packages.map(withoutFragments), files: prev.files };
      continue;
    }
    /** Each package's <package> elements, for the documents written below. */
    const frags = new Map<YumPackage, Fragments>();
    const files: string[] = [];
    const prevSigned = new Map((prev?.packages ?? []).map((p) => [`${p.headerSha256}\0${p.href}`, p]));
    const now = Math.floor(ctx.now.getTime() / 1000);

    // 1. the signed rpms
    const queue = [...cs.packages];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        ctx.signal.throwIfAborted();
        const dirs = archesOf(p, arches);
        const old = prevSigned.get(`${p.headerSha256}\0${p.href}`)?.signed;
        if (old && old.fingerprint === signer.fingerprint && tree.previousDir) {
          let linked = true;
          for (const a of dirs) linked &&= await tree.linkPrevious(`${base}/${a}/${p.href}`);
          if (linked) {
            p.signed = old;
            if (old.primary !== undefined && old.filelists !== undefined && old.other !== undefined) {
              frags.set(p, { primary: Buffer.from(old.primary), filelists: Buffer.from(old.filelists), other: Buffer.from(old.other) });
            }
            files.push(...dirs.map((a) => `${a}/${p.href}`));
            continue;
          }
        }
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
        files.push(...dirs.map((a) => `${a}/${p.href}`));
        if (inputs.has(p.headerSha256)) added.push(`${base}/${dirs[0]}/${p.href}`);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const t1 = performance.now();
    // the packages carried over: their elements from the live repodata, else from their headers
    const missing = cs.packages.filter((p) => !frags.has(p));
    if (missing.length > 0) {
      const live = tree.previousDir && prev?.files ? await previousFragments(join(tree.previousDir, base), prev.files) : new Map<string, Partial<Fragments>>();
      for (const p of missing) {
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

    // 2. repodata per arch repository: every document of every arch is compressed at once on
    // libuv's thread pool (zlib's async API), while this thread hashes the uncompressed texts
    const docs = arches.flatMap((arch) => {
      const pkgs = cs.packages.filter((p) => p.arch === arch || p.arch === 'noarch');
      return REPODATA_PARTS.map(({ type, head, tail }) => {
        const text = joinFragments([Buffer.from(head(pkgs.length)), ...pkgs.map((p) => frags.get(p)![type]), Buffer.from(tail)]);
        const gz = gzipAsync(text, { level: GZIP_LEVEL });
        gz.catch(() => {}); // awaited below; never an unhandled rejection if a write fails first
        return { arch, type, text, gz };
      });
    });
    const openChecksums = docs.map((d) => sha256hex(d.text));
    for (const arch of arches) {
      const records: RepomdRecord[] = [];
      for (const [i, d] of docs.entries()) {
        if (d.arch !== arch) continue;
        const gz = await d.gz;
        const checksum = sha256hex(gz);
        const href = `repodata/${repodataFileName(d.type, checksum)}`;
        await tree.writeFile(`${base}/${arch}/${href}`, gz);
        files.push(`${arch}/${href}`);
        records.push({ type: d.type, href, checksum, size: gz.length, openChecksum: openChecksums[i]!, openSize: d.text.length, timestamp: now });
      }
      const repomd = Buffer.from(repomdXml(now, records));
      await tree.writeFile(`${base}/${arch}/repodata/repomd.xml`, repomd);
      await tree.writeFile(`${base}/${arch}/repodata/repomd.xml.asc`, await signer.signDetachedArmored(repomd));
      files.push(`${arch}/repodata/repomd.xml`, `${arch}/repodata/repomd.xml.asc`);
      metadata.push(`${base}/${arch}/repodata/repomd.xml`);

      const url = (settings.baseUrl ?? `file://${dirname(dirname(tree.dir))}/current`).replace(/\/+$/, '');
      const name = `${settings.keyName}-${channel}-${arch}`;
      await writeOrKeep(tree, `${base}/${name}.repo`, repoFile({
        id: name,
        name: `${settings.keyName} ${channel} (${arch})`,
        baseurl: `${url}/${base}/${arch}/`,
        gpgkey: `${url}/gpg/${settings.keyName}.asc`,
      }));
      files.push(`${name}.repo`);
    }
    ctx.logger.debug('yum channel written', { channel, packages: cs.packages.length, signMs: Math.round(t1 - t0), repodataMs: Math.round(performance.now() - t1) });
    channels[channel] = { packages: cs.packages.map(withoutFragments), files: files.sort() };
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
