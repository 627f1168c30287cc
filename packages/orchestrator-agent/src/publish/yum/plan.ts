import { compareEvr } from '@pkgfleet/shared';
import { PublishError } from '../format';
import type { RepoSettings } from '../settings';
import type { RpmRecord } from './ingest';
import { packageHref, type YumPackage, type YumState } from './state';

const nevra = (p: Pick<YumPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>) => `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;

/** Repository order: name, arch, then newest first. */
export function packageOrder(a: YumPackage, b: YumPackage): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.arch !== b.arch) return a.arch < b.arch ? -1 : 1;
  return compareEvr(b, a);
}

/**
 * Add new rpms to a channel, keep the newest `retention` versions of each (name, arch) by rpm
 * version order, refuse two different builds that claim the same name-epoch:version-release.arch
 * (or the same file name). Pure.
 */
export function planYum(previous: YumState, records: readonly RpmRecord[], channel: string, settings: RepoSettings): YumState {
  if (!settings.suites.includes(channel)) {
    throw new PublishError('E_PUBLISH_CHANNEL', `channel "${channel}" is not configured (repoSuites: ${settings.suites.join(', ')})`, 'pass --channel with one of them, or add it to repoSuites');
  }
  const current = previous.channels[channel]?.packages ?? [];
  const byNevra = new Map<string, YumPackage>();
  const byHref = new Map<string, YumPackage>();
  const inputOf = new Map<YumPackage, string>();
  for (const p of current) {
    byNevra.set(nevra(p), p);
    byHref.set(p.href, p);
  }
  for (const r of records) {
    const p = r.pkg;
    const entry: YumPackage = {
      name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch,
      href: packageHref(p.name, p.version, p.release, p.arch), headerSha256: r.headerSha256,
    };
    const key = nevra(entry);
    const known = byNevra.get(key);
    if (known) {
      if (known.headerSha256 !== r.headerSha256) {
        const other = inputOf.get(known);
        throw new PublishError(
          'E_PUBLISH_CONFLICT',
          other
            ? `${r.input} and ${other} are different builds that both claim ${key}`
            : `${r.input}: ${key} is already published in channel "${channel}" with different content`,
          'a published version never changes: bump the release (e.g. -2) and publish that',
        );
      }
      continue; // the same build again (perhaps signed by someone else): nothing to do
    }
    const clash = byHref.get(entry.href);
    if (clash) {
      throw new PublishError('E_PUBLISH_CONFLICT', `${r.input}: ${key} would be stored as ${entry.href}, which already holds ${nevra(clash)}`, 'versions that differ only in their epoch cannot share a file name');
    }
    byNevra.set(key, entry);
    byHref.set(entry.href, entry);
    inputOf.set(entry, r.input);
  }

  // retention: newest N of each (name, arch)
  const groups = new Map<string, YumPackage[]>();
  for (const p of byNevra.values()) {
    const k = `${p.name}\0${p.arch}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(p);
  }
  const kept = [...groups.values()].flatMap((g) => g.sort((a, b) => compareEvr(b, a)).slice(0, settings.retention));
  const channels = { ...previous.channels, [channel]: { packages: kept.sort(packageOrder) } };
  return { version: 2, channels: Object.fromEntries(Object.keys(channels).sort().map((k) => [k, channels[k]!])) };
}
