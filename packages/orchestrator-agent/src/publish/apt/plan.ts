import { compareVersions, debFileName, poolDirectory } from '@pkgfleet/shared';
import { PublishError } from '../format';
import type { RepoSettings } from '../settings';
import type { DebRecord } from './ingest';
import type { AptState, PoolEntry, SuiteState } from './state';

/**
 * Add new packages to a suite, keep the newest `retention` versions of each package (per
 * architecture) in that suite, and drop pool files no suite references. Pure.
 */
export function planApt(previous: AptState, records: readonly DebRecord[], suite: string, settings: RepoSettings): AptState {
  if (!settings.suites.includes(suite)) {
    throw new PublishError('E_PUBLISH_CHANNEL', `channel "${suite}" is not a configured suite (repoSuites: ${settings.suites.join(', ')})`, 'pass --channel with one of them, or add it to repoSuites');
  }
  const pool: Record<string, PoolEntry> = { ...previous.pool };
  const byKey = new Map<string, PoolEntry>();
  for (const e of Object.values(pool)) byKey.set(`${e.package}\0${e.version}\0${e.architecture}`, e);
  const inputOf = new Map<string, string>();
  const added = new Set<string>();

  for (const r of records) {
    const key = `${r.package}\0${r.version}\0${r.architecture}`;
    const filename = poolFilename(settings.component, r);
    const known = byKey.get(key);
    if (known) {
      if (known.sha256 !== r.sha256) {
        const other = inputOf.get(known.filename);
        throw new PublishError(
          'E_PUBLISH_CONFLICT',
          other
            ? `${r.input} and ${other} are different files that both claim ${r.package} ${r.version} ${r.architecture}`
            : `${r.input}: ${r.package} ${r.version} ${r.architecture} is already published with different content (${known.filename})`,
          'a published version never changes: bump the version (e.g. a new Debian revision) and publish that',
        );
      }
      added.add(known.filename);
      continue;
    }
    if (pool[filename]) {
      const o = pool[filename];
      throw new PublishError('E_PUBLISH_CONFLICT', `${r.input}: ${r.package} ${r.version} ${r.architecture} would be stored as ${filename}, which already holds ${o.package} ${o.version} ${o.architecture}`, 'versions that differ only in their epoch cannot share a pool');
    }
    const entry: PoolEntry = {
      package: r.package, version: r.version, architecture: r.architecture, source: r.source, filename, control: r.control,
      size: r.size, md5: r.md5, sha1: r.sha1, sha256: r.sha256, sha512: r.sha512,
    };
    pool[filename] = entry;
    byKey.set(key, entry);
    inputOf.set(filename, r.input);
    added.add(filename);
  }

  const prevSuite = previous.suites[suite];
  const members = new Set([...(prevSuite?.packages ?? []), ...added]);
  const kept = retain([...members].map((f) => pool[f]!), settings.retention);
  const suites: Record<string, SuiteState> = { ...previous.suites };
  suites[suite] = {
    packages: kept.map((e) => e.filename).sort(),
    indexes: prevSuite?.indexes ?? {},
    distFiles: prevSuite?.distFiles ?? [],
    byHash: prevSuite?.byHash ?? [],
  };

  const referenced = new Set(Object.values(suites).flatMap((s) => s.packages));
  for (const f of Object.keys(pool)) if (!referenced.has(f)) delete pool[f];
  return { version: 1, pool: sortKeys(pool), suites: sortKeys(suites) };
}

/** Where a package lives, relative to apt/: pool/main/h/hello/hello_1.0-1_amd64.deb */
export function poolFilename(component: string, r: Pick<DebRecord, 'source' | 'package' | 'version' | 'architecture'>): string {
  return `${poolDirectory(component, r.source)}/${debFileName(r.package, r.version, r.architecture)}`;
}

/** Newest `n` versions of each (package, architecture), in dpkg order. */
export function retain(entries: readonly PoolEntry[], n: number): PoolEntry[] {
  const groups = new Map<string, PoolEntry[]>();
  for (const e of entries) {
    const k = `${e.package}\0${e.architecture}`;
    const g = groups.get(k);
    if (g) g.push(e);
    else groups.set(k, [e]);
  }
  const out: PoolEntry[] = [];
  for (const g of groups.values()) out.push(...g.sort((a, b) => compareVersions(b.version, a.version)).slice(0, n));
  return out;
}

/** Packages index order: name, then dpkg version order, then architecture. */
export function indexOrder(a: PoolEntry, b: PoolEntry): number {
  if (a.package !== b.package) return a.package < b.package ? -1 : 1;
  const v = compareVersions(a.version, b.version);
  if (v) return v;
  return a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
