import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import {
  byHashPaths, componentReleaseFile, packagesFile, packagesStanza, releaseFile, xzCompress, xzJoinStreams, type FileHashes,
} from '@pkgfleet/shared';
import type { FormatSummary, WriteContext } from '../format';
import type { DebRecord } from './ingest';
import { indexOrder } from './plan';
import type { AptState, IndexState, PoolEntry, SuiteState } from './state';

const gzipAsync = promisify(gzip);

/** Everything apt writes lives under this directory of the served tree. */
export const APT_DIR = 'apt';

function hashesOf(data: Uint8Array): FileHashes {
  return {
    size: data.byteLength,
    md5: createHash('md5').update(data).digest('hex'),
    sha1: createHash('sha1').update(data).digest('hex'),
    sha256: createHash('sha256').update(data).digest('hex'),
    sha512: createHash('sha512').update(data).digest('hex'),
  };
}

/**
 * Write the apt part of the new tree: pool files (hard links for those already published, copies
 * of new inputs), and for the published suite (and any configured suite not published yet) the
 * indexes, Release, InRelease, Release.gpg and by-hash copies. Other suites are carried over
 * byte for byte, signatures included.
 */
export async function writeApt(
  previous: AptState,
  state: AptState,
  inputs: ReadonlyMap<string, DebRecord>,
  copies: ReadonlySet<string>,
  ctx: WriteContext,
): Promise<FormatSummary> {
  const { tree, settings } = ctx;
  const added: string[] = [];
  const moved: string[] = [];
  let durable = true;
  const recycled = recycledPool(previous, tree.recycledFrom);
  for (const [filename] of Object.entries(state.pool)) {
    const rel = `${APT_DIR}/${filename}`;
    if (recycled?.kept.has(filename)) {
      tree.keepRecycled(rel);
      continue;
    }
    if (previous.pool[filename] && tree.linkPrevious(rel)) continue;
    const input = inputs.get(filename);
    if (!input) throw new Error(`apt: ${filename} is neither in the live tree nor among the inputs`);
    if (input.copy) {
      moved.push(filename);
      durable &&= input.copy.durable;
    } else {
      await tree.addFile(rel, input.input);
    }
    added.push(filename);
  }
  if (moved.length) {
    // ingest left each copy at ctx.copies/<pool filename>: drop those not needed (already
    // published, or not retained), then the rest moves in, whole directories at a time
    const wanted = new Set(moved.map((f) => `${ctx.copies}/${f}`));
    for (const c of copies) if (!wanted.has(c)) unlinkSync(c);
    await tree.mergeIn(`${APT_DIR}/pool`, `${ctx.copies}/pool`, moved.map((f) => f.slice('pool/'.length)), durable);
  }
  const removed = Object.keys(previous.pool).filter((f) => !state.pool[f]);
  if (recycled) tree.recycledStale(`${APT_DIR}/pool`, recycled.holds.filter((f) => !state.pool[f]).map((f) => f.slice('pool/'.length)));
  // recorded for the publish that will build over the live tree once it is retired
  if (ctx.previousId) state.change = { builtFrom: ctx.previousId, added: [...added].sort(), removed };
  else delete state.change;
  const metadata: string[] = [];
  const suites: Record<string, SuiteState> = { ...state.suites };
  for (const suite of settings.suites) {
    const prev = previous.suites[suite];
    const republish = suite === ctx.suite || !prev || !tree.previousDir;
    if (!republish) {
      for (const f of prev.distFiles) tree.linkPrevious(`${APT_DIR}/dists/${suite}/${f}`);
      continue;
    }
    const cur = suites[suite] ?? { packages: [], indexes: {}, distFiles: [], byHash: [] };
    suites[suite] = await writeSuite(suite, prev, cur, state.pool, previous.pool, ctx);
    metadata.push(`${APT_DIR}/dists/${suite}/InRelease`);
  }
  state.suites = suites;
  return { format: 'apt', packages: Object.keys(state.pool).length, added, removed, metadata };
}

/**
 * What the pool of the retired tree the stage is built over holds, if the live state says how
 * the live tree was built from it: every pool file of the live tree that was not added new is
 * the retired tree's file (a hard link of it), and the retired tree also holds what was removed.
 */
function recycledPool(live: AptState, recycledFrom: string | undefined): { kept: Set<string>; holds: string[] } | undefined {
  const c = live.change;
  if (!recycledFrom || !c || c.builtFrom !== recycledFrom) return undefined;
  const added = new Set(c.added);
  const kept = new Set(Object.keys(live.pool).filter((f) => !added.has(f)));
  return { kept, holds: [...kept, ...c.removed] };
}

/** Appends to an index stop here: the next change writes it whole (and in order) again. */
const MAX_APPENDS = 32;
/**
 * How the stanzas of an index are written (packagesStanza): an index of another format is
 * neither kept nor appended to, but written whole. Bump it when the stanzas change.
 */
const INDEX_FORMAT = 2;

const INDEX_NAMES = ['Packages', 'Packages.gz', 'Packages.xz'] as const;
type IndexName = (typeof INDEX_NAMES)[number];

/**
 * The live index files of an arch (Packages, .gz, .xz), if they are there and still hold what
 * the live state says (SHA-256); undefined otherwise.
 */
async function liveIndex(dir: string, files: Record<string, FileHashes>): Promise<Record<IndexName, Buffer> | undefined> {
  try {
    const data = await Promise.all(INDEX_NAMES.map((n) => readFile(`${dir}/${n}`)));
    if (!data.every((d, i) => createHash('sha256').update(d).digest('hex') === files[INDEX_NAMES[i]!]?.sha256)) return undefined;
    return { Packages: data[0]!, 'Packages.gz': data[1]!, 'Packages.xz': data[2]! };
  } catch {
    return undefined;
  }
}

async function writeSuite(suite: string, prev: SuiteState | undefined, cur: SuiteState, pool: Record<string, PoolEntry>, previousPool: Record<string, PoolEntry>, ctx: WriteContext): Promise<SuiteState> {
  const { tree, settings } = ctx;
  const base = `${APT_DIR}/dists/${suite}`;
  const entries = cur.packages.map((f) => pool[f]!).sort(indexOrder);
  const stanzas = new Map<string, string>();
  const stanzaOf = (e: PoolEntry) => {
    let s = stanzas.get(e.filename);
    if (!s) {
      s = packagesStanza(e.control.map(([name, value]) => ({ name, value })), e.filename, e);
      stanzas.set(e.filename, s);
    }
    return s;
  };
  const listed: Array<{ path: string } & FileHashes> = [];
  const distFiles: string[] = [];
  const indexes: SuiteState['indexes'] = {};
  const put = async (rel: string, data: Uint8Array) => {
    await tree.writeFile(`${base}/${rel}`, data);
    distFiles.push(rel);
  };
  const inArch = (arch: string) => (e: PoolEntry) => e.architecture === arch || e.architecture === 'all';
  // per arch, the packages of its index, and how it relates to the live one: the same packages
  // (its files are kept), more packages (the new stanzas are appended, see below) or else
  const plans = settings.architectures.map((arch) => {
    const dir = `${settings.component}/binary-${arch}`;
    const here = inArch(arch);
    const list = entries.filter(here);
    const live = (prev?.packages ?? []).filter((f) => previousPool[f] && here(previousPool[f]));
    const names = new Set(list.map((e) => e.filename));
    // the live index, if it is of this format and lists nothing this one drops
    const before = prev?.indexes[arch]?.format === INDEX_FORMAT && tree.previousDir && live.every((f) => names.has(f)) ? prev.indexes[arch] : undefined;
    const had = new Set(live);
    return { arch, dir, list, before, added: before ? list.filter((e) => !had.has(e.filename)) : list, liveCount: live.length };
  });
  // an unchanged index keeps its files: no recompression, same bytes
  const reused = new Map<string, IndexState>();
  for (const { arch, dir, before, added } of plans) {
    if (!before || added.length > 0) continue;
    let linked = true;
    for (const n of Object.keys(before.files)) linked &&= tree.linkPrevious(`${base}/${dir}/${n}`);
    if (linked) reused.set(arch, before);
  }
  // Packages only grew: the new stanzas go after the live ones (apt reads an index in any order)
  // as another gzip member and another xz block (RFC 1952 2.2, .xz format 2.1: every reader
  // joins them), so the live files' compressed bytes are reused, nothing is compressed twice
  const appended = new Map(await Promise.all(plans.map(async ({ arch, dir, before, added, liveCount }) => {
    if (reused.has(arch) || !before || added.length === 0 || liveCount === 0 || (before.appended ?? 0) >= MAX_APPENDS) return [arch, undefined] as const;
    const files = await liveIndex(`${tree.previousDir}/${base}/${dir}`, before.files);
    return [arch, files && { files, more: Buffer.from('\n' + packagesFile(added.map(stanzaOf))) }] as const;
  })));
  // written whole: gzip runs on the thread pool while xz (WebAssembly) runs on this thread
  const whole = new Map(plans.filter((x) => !reused.has(x.arch) && !appended.get(x.arch)).map((x) => {
    const text = Buffer.from(packagesFile(x.list.map(stanzaOf)));
    const gz = gzipAsync(text, { level: 9 });
    gz.catch(() => {}); // awaited below
    return [x.arch, { text, gz }];
  }));
  for (const { arch, dir, before } of plans) {
    let index = reused.get(arch);
    if (index) {
      distFiles.push(...Object.keys(index.files).map((n) => `${dir}/${n}`));
    } else {
      const add = appended.get(arch);
      let data: Record<IndexName, Uint8Array>;
      if (add) {
        data = {
          Packages: Buffer.concat([add.files.Packages, add.more]),
          'Packages.gz': Buffer.concat([add.files['Packages.gz'], gzipSync(add.more, { level: 9 })]),
          'Packages.xz': xzJoinStreams(add.files['Packages.xz'], await xzCompress(add.more, settings.xzLevel)),
        };
      } else {
        const w = whole.get(arch)!;
        data = { Packages: w.text, 'Packages.gz': await w.gz, 'Packages.xz': await xzCompress(w.text, settings.xzLevel) };
      }
      const files: Record<string, FileHashes> = {};
      for (const n of INDEX_NAMES) {
        await put(`${dir}/${n}`, data[n]);
        files[n] = hashesOf(data[n]);
      }
      index = { format: INDEX_FORMAT, packagesSha256: files.Packages!.sha256, files, ...(add && { appended: (before!.appended ?? 0) + 1 }) };
    }
    for (const [n, h] of Object.entries(index.files)) listed.push({ path: `${dir}/${n}`, ...h });
    const rel = Buffer.from(componentReleaseFile({ suite, origin: settings.origin, label: settings.label, component: settings.component, architecture: arch }));
    await put(`${dir}/Release`, rel);
    listed.push({ path: `${dir}/Release`, ...hashesOf(rel) });
    indexes[arch] = index;
  }

  // by-hash: this generation's files, plus those of the previous generations still kept
  const generation: string[] = [];
  for (const f of listed) {
    for (const p of byHashPaths(f.path, f)) {
      if (tree.has(`${base}/${p}`)) continue;
      await tree.linkWithin(`${base}/${p}`, `${base}/${f.path}`);
      generation.push(p);
    }
  }
  const byHash = [generation.sort(), ...(prev?.byHash ?? [])].slice(0, settings.byHashKeep);
  distFiles.push(...generation);
  for (const old of byHash.slice(1)) {
    for (const p of old) if (!tree.has(`${base}/${p}`) && (tree.linkPrevious(`${base}/${p}`))) distFiles.push(p);
  }

  const release = releaseFile({
    origin: settings.origin,
    label: settings.label,
    suite,
    codename: suite,
    date: ctx.now,
    validUntil: settings.validFor ? new Date(ctx.now.getTime() + settings.validFor) : undefined,
    architectures: settings.architectures,
    components: [settings.component],
    description: settings.description,
    signedBy: [ctx.signer.fingerprint],
    acquireByHash: true,
    files: listed,
  });
  await put('Release', Buffer.from(release));
  await put('InRelease', Buffer.from(await ctx.signer.clearSign(release, ctx.now)));
  await put('Release.gpg', Buffer.from(await ctx.signer.signDetachedArmored(Buffer.from(release), ctx.now)));
  return { packages: cur.packages, indexes, distFiles: [...new Set(distFiles)].sort(), byHash };
}
