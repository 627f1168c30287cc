import { createHash } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  byHashPaths, componentReleaseFile, packagesFile, packagesStanza, releaseFile, xzCompress, type FileHashes,
} from '@pkgfleet/shared';
import type { FormatSummary, WriteContext } from '../format';
import type { DebRecord } from './ingest';
import { indexOrder } from './plan';
import type { AptState, PoolEntry, SuiteState } from './state';

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
    if (previous.pool[filename] && (await tree.linkPrevious(rel))) continue;
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
      for (const f of prev.distFiles) await tree.linkPrevious(`${APT_DIR}/dists/${suite}/${f}`);
      continue;
    }
    const cur = suites[suite] ?? { packages: [], indexes: {}, distFiles: [], byHash: [] };
    suites[suite] = await writeSuite(suite, prev, cur, state.pool, ctx);
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

async function writeSuite(suite: string, prev: SuiteState | undefined, cur: SuiteState, pool: Record<string, PoolEntry>, ctx: WriteContext): Promise<SuiteState> {
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
  const indexFiles = settings.architectures.map((arch) => {
    const dir = `${settings.component}/binary-${arch}`;
    const text = Buffer.from(packagesFile(entries.filter((e) => e.architecture === arch || e.architecture === 'all').map(stanzaOf)));
    return { arch, dir, text, sha256: createHash('sha256').update(text).digest('hex') };
  });
  // an unchanged index keeps its compressed files: no recompression, same bytes
  const reused = new Map<string, Record<string, FileHashes>>();
  for (const { arch, dir, sha256 } of indexFiles) {
    const before = prev?.indexes[arch];
    if (before?.packagesSha256 !== sha256 || !before.files || !tree.previousDir) continue;
    let linked = true;
    for (const n of Object.keys(before.files)) linked &&= await tree.linkPrevious(`${base}/${dir}/${n}`);
    if (linked) reused.set(arch, before.files);
  }
  // gzip runs on the thread pool while xz (WebAssembly) runs on this thread
  const gzipped = new Map(indexFiles.filter((x) => !reused.has(x.arch)).map((x) => [x.arch, gzipAsync(x.text, { level: 9 })]));
  for (const p of gzipped.values()) p.catch(() => {}); // each is awaited below
  for (const { arch, dir, text, sha256 } of indexFiles) {
    let files = reused.get(arch);
    if (files) {
      distFiles.push(...Object.keys(files).map((n) => `${dir}/${n}`));
    } else {
      const xz = await xzCompress(text, settings.xzLevel);
      files = {};
      for (const [n, data] of [['Packages', text], ['Packages.gz', await gzipped.get(arch)!], ['Packages.xz', xz]] as const) {
        await put(`${dir}/${n}`, data);
        files[n] = hashesOf(data);
      }
    }
    for (const [n, h] of Object.entries(files)) listed.push({ path: `${dir}/${n}`, ...h });
    const rel = Buffer.from(componentReleaseFile({ suite, origin: settings.origin, label: settings.label, component: settings.component, architecture: arch }));
    await put(`${dir}/Release`, rel);
    listed.push({ path: `${dir}/Release`, ...hashesOf(rel) });
    indexes[arch] = { packagesSha256: sha256, files };
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
    for (const p of old) if (!tree.has(`${base}/${p}`) && (await tree.linkPrevious(`${base}/${p}`))) distFiles.push(p);
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
