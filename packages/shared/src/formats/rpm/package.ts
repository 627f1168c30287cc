import { RpmFormatError, type RpmFile, type RpmHeader } from './header';
import { FileFlag, Sense, Tag } from './tags';
import { rpmvercmp } from './version';

/**
 * What yum metadata says about a package, taken from its header the way createrepo_c
 * (src/parsehdr.c) takes it, so that dnf sees the same thing from our repodata as from
 * createrepo_c's: which requires are dropped, `pre`, weak deps, files, changelog limit.
 */

export type DepFlag = 'EQ' | 'LT' | 'GT' | 'LE' | 'GE';

export interface RpmDependency {
  name: string;
  flags?: DepFlag;
  epoch?: string;
  version?: string;
  release?: string;
  /** Requires only: needed by %pre/%post (createrepo_c's pre="1"). */
  pre?: boolean;
}

export type RpmFileType = 'file' | 'dir' | 'ghost';

export interface RpmFileEntry {
  path: string;
  type: RpmFileType;
}

export interface RpmChangelog {
  author: string;
  date: number;
  text: string;
}

export interface RpmPackage {
  name: string;
  arch: string;
  epoch: number;
  version: string;
  release: string;
  summary: string;
  description: string;
  packager: string;
  url: string;
  license: string;
  vendor: string;
  group: string;
  buildhost: string;
  sourcerpm: string;
  buildTime: number;
  installedSize: number;
  archiveSize: number;
  isSource: boolean;
  headerStart: number;
  headerEnd: number;
  provides: RpmDependency[];
  requires: RpmDependency[];
  conflicts: RpmDependency[];
  obsoletes: RpmDependency[];
  suggests: RpmDependency[];
  enhances: RpmDependency[];
  recommends: RpmDependency[];
  supplements: RpmDependency[];
  files: RpmFileEntry[];
  /** Oldest first, at most `changelogLimit` (the newest ones), as createrepo_c writes them. */
  changelogs: RpmChangelog[];
}

export interface PackageOptions {
  /** How many changelog entries to keep (createrepo_c's --changelog-limit, default 10). */
  changelogLimit?: number;
}

/** createrepo_c's primary-file rule (misc.h cr_is_primary): the files listed in primary.xml. */
export function isPrimaryFile(path: string): boolean {
  return path.startsWith('/etc/') || path === '/usr/lib/sendmail' || path.includes('bin/');
}

function flagOf(sense: number): DepFlag | undefined {
  switch (sense & (Sense.LESS | Sense.GREATER | Sense.EQUAL)) {
    case Sense.EQUAL: return 'EQ';
    case Sense.LESS: return 'LT';
    case Sense.GREATER: return 'GT';
    case Sense.LESS | Sense.EQUAL: return 'LE';
    case Sense.GREATER | Sense.EQUAL: return 'GE';
    default: return undefined;
  }
}

interface RawDep {
  name: string;
  sense: number;
  version: string;
}

function rawDeps(h: RpmHeader, nameTag: number, flagsTag: number, versionTag: number, what: string): RawDep[] {
  const names = h.strings(nameTag);
  if (names.length === 0) return [];
  const flags = h.numbers(flagsTag);
  const versions = h.strings(versionTag);
  if (flags.length !== names.length || versions.length !== names.length) {
    throw new RpmFormatError('E_RPM_HEADER', `${what}: dependency tag ${nameTag} has ${names.length} names but ${flags.length} flags and ${versions.length} versions`, 'rebuild the package');
  }
  return names.map((name, i) => ({ name, sense: flags[i]!, version: versions[i]! }));
}

/** createrepo_c's cr_str_to_evr: epoch before the first ':' (0 when absent or not a number),
 *  release after the first '-' that follows it. */
function splitDepEvr(s: string): { epoch: string; version: string; release?: string } {
  const colon = s.indexOf(':');
  let epoch = '0';
  let rest = s;
  if (colon >= 0) {
    const e = s.slice(0, colon);
    if (/^\d+$/.test(e)) epoch = e;
    rest = s.slice(colon + 1);
  }
  const dash = rest.indexOf('-');
  if (dash < 0) return { epoch, version: rest };
  const release = rest.slice(dash + 1);
  return release ? { epoch, version: rest.slice(0, dash), release } : { epoch, version: rest.slice(0, dash) };
}

function toDep(d: RawDep): RpmDependency {
  const dep: RpmDependency = { name: d.name };
  const flag = flagOf(d.sense);
  if (flag) dep.flags = flag;
  if (d.version) Object.assign(dep, splitDepEvr(d.version));
  return dep;
}

/** Header fields and the lists yum metadata needs. */
export function packageFromRpm(rpm: RpmFile, opts: PackageOptions = {}): RpmPackage {
  const h = rpm.header;
  const what = `${rpm.file}: header`;
  const str = (tag: number) => h.string(tag) ?? '';
  const name = h.string(Tag.NAME);
  const version = h.string(Tag.VERSION);
  const release = h.string(Tag.RELEASE);
  if (!name || version === undefined || release === undefined) {
    throw new RpmFormatError('E_RPM_HEADER', `${what}: no name, version or release`, 'rebuild the package');
  }
  const isSource = h.has(Tag.SOURCEPACKAGE) || !h.has(Tag.SOURCERPM);

  // files: basenames + dirnames/dirindexes (or the pre-4.0 OLDFILENAMES)
  const files: RpmFileEntry[] = [];
  const basenames = h.strings(Tag.BASENAMES);
  let paths: string[];
  if (basenames.length > 0) {
    const dirnames = h.strings(Tag.DIRNAMES);
    const dirindexes = h.numbers(Tag.DIRINDEXES);
    if (dirindexes.length !== basenames.length) throw new RpmFormatError('E_RPM_HEADER', `${what}: ${basenames.length} file names but ${dirindexes.length} directory indexes`, 'rebuild the package');
    paths = basenames.map((b, i) => {
      const d = dirnames[dirindexes[i]!];
      if (d === undefined) throw new RpmFormatError('E_RPM_HEADER', `${what}: file ${b} points at directory ${dirindexes[i]}, there are ${dirnames.length}`, 'rebuild the package');
      return d + b;
    });
  } else {
    paths = h.strings(Tag.OLDFILENAMES);
  }
  const modes = h.numbers(Tag.FILEMODES);
  const fflags = h.numbers(Tag.FILEFLAGS);
  const fileSet = new Set<string>();
  paths.forEach((path, i) => {
    const mode = modes[i] ?? 0;
    const type: RpmFileType = (mode & 0o170000) === 0o040000 ? 'dir' : ((fflags[i] ?? 0) & FileFlag.GHOST) ? 'ghost' : 'file';
    files.push({ path, type });
    fileSet.add(path);
  });

  const provides: RpmDependency[] = [];
  const requires: RpmDependency[] = [];
  const recommends: RpmDependency[] = [];
  const suggests: RpmDependency[] = [];
  const supplements: RpmDependency[] = [];
  const enhances: RpmDependency[] = [];
  const conflicts: RpmDependency[] = [];
  const obsoletes: RpmDependency[] = [];

  const providedKeys = new Set<string>();
  for (const d of rawDeps(h, Tag.PROVIDENAME, Tag.PROVIDEFLAGS, Tag.PROVIDEVERSION, what)) {
    const dep = toDep(d);
    providedKeys.add(`${d.name}\0${dep.flags ?? ''}\0${d.version}`);
    provides.push(dep);
  }
  for (const d of rawDeps(h, Tag.CONFLICTNAME, Tag.CONFLICTFLAGS, Tag.CONFLICTVERSION, what)) {
    conflicts.push(toDep(d));
  }
  for (const d of rawDeps(h, Tag.OBSOLETENAME, Tag.OBSOLETEFLAGS, Tag.OBSOLETEVERSION, what)) {
    obsoletes.push(toDep(d));
  }
  // requires, as createrepo_c filters them
  const seenRequires = new Map<string, { flags: string; version: string; pre: boolean }>();
  let libc: RpmDependency | undefined;
  for (const d of rawDeps(h, Tag.REQUIRENAME, Tag.REQUIREFLAGS, Tag.REQUIREVERSION, what)) {
    if (d.name.startsWith('rpmlib(')) continue;
    if (d.name.startsWith('/') && fileSet.has(d.name) && isPrimaryFile(d.name)) continue;
    const flags = flagOf(d.sense) ?? '';
    if (providedKeys.has(`${d.name}\0${flags}\0${d.version}`)) continue;
    const pre = (d.sense & (Sense.PREREQ | Sense.SCRIPT_PRE | Sense.SCRIPT_POST)) !== 0;
    const seen = seenRequires.get(d.name);
    if (seen && seen.flags === flags && seen.version === d.version && seen.pre === pre) continue;
    const dep = toDep(d);
    // rpm < 4.12 wrote weak deps as requires with MISSINGOK (createrepo_c's legacy weakdeps)
    if (d.sense & Sense.MISSINGOK) {
      recommends.push(dep);
      continue;
    }
    if (pre) dep.pre = true;
    // createrepo_c keeps only the highest libc.so.6 requirement, listed last
    if (d.name.startsWith('libc.so.6')) {
      if (!libc || compareLibc(libc.name, d.name) === 2) libc = dep;
      continue;
    }
    requires.push(dep);
    seenRequires.set(d.name, { flags, version: d.version, pre });
  }
  if (libc) requires.push(libc);

  const weak: [number, number, number, RpmDependency[]][] = [
    [Tag.SUGGESTNAME, Tag.SUGGESTFLAGS, Tag.SUGGESTVERSION, suggests],
    [Tag.ENHANCENAME, Tag.ENHANCEFLAGS, Tag.ENHANCEVERSION, enhances],
    [Tag.RECOMMENDNAME, Tag.RECOMMENDFLAGS, Tag.RECOMMENDVERSION, recommends],
    [Tag.SUPPLEMENTNAME, Tag.SUPPLEMENTFLAGS, Tag.SUPPLEMENTVERSION, supplements],
  ];
  for (const [n, f, v, list] of weak) {
    for (const d of rawDeps(h, n, f, v, what)) {
      list.push(toDep(d));
    }
  }
  // rpm < 4.12 Suggests/Enhances tags: STRONG means Recommends/Supplements
  for (const d of rawDeps(h, Tag.OLDSUGGESTSNAME, Tag.OLDSUGGESTSFLAGS, Tag.OLDSUGGESTSVERSION, what)) {
    (d.sense & Sense.STRONG ? recommends : suggests).push(toDep(d));
  }
  for (const d of rawDeps(h, Tag.OLDENHANCESNAME, Tag.OLDENHANCESFLAGS, Tag.OLDENHANCESVERSION, what)) {
    (d.sense & Sense.STRONG ? supplements : enhances).push(toDep(d));
  }

  return {
    name,
    arch: isSource ? 'src' : str(Tag.ARCH),
    epoch: h.number(Tag.EPOCH) ?? 0,
    version,
    release,
    summary: str(Tag.SUMMARY),
    description: str(Tag.DESCRIPTION),
    packager: str(Tag.PACKAGER),
    url: str(Tag.URL),
    license: str(Tag.LICENSE),
    vendor: str(Tag.VENDOR),
    group: str(Tag.GROUP),
    buildhost: str(Tag.BUILDHOST),
    sourcerpm: str(Tag.SOURCERPM),
    buildTime: h.number(Tag.BUILDTIME) ?? 0,
    installedSize: h.number(Tag.LONGSIZE) ?? h.number(Tag.SIZE) ?? 0,
    archiveSize: h.number(Tag.ARCHIVESIZE) ?? rpm.signature.number(1007) ?? rpm.signature.number(271) ?? 0,
    isSource,
    headerStart: rpm.layout.headerStart,
    headerEnd: rpm.layout.headerEnd,
    provides,
    requires,
    conflicts,
    obsoletes,
    suggests,
    enhances,
    recommends,
    supplements,
    files,
    changelogs: changelogsOf(h, opts.changelogLimit ?? 10),
  };
}

/** createrepo_c: the first `limit` entries (newest first in the header), written oldest first;
 *  equal times are made distinct by bumping the older ones, as createrepo_c does. */
function changelogsOf(h: RpmHeader, limit: number): RpmChangelog[] {
  const times = h.numbers(Tag.CHANGELOGTIME);
  const names = h.strings(Tag.CHANGELOGNAME);
  const texts = h.strings(Tag.CHANGELOGTEXT);
  const n = Math.min(times.length, names.length, texts.length, limit < 0 ? Infinity : limit);
  const out: RpmChangelog[] = [];
  let lastTime = 0;
  for (let i = 0; i < n; i++) {
    const time = times[i]!;
    out.unshift({ author: names[i]!.replace(/ +$/, ''), date: time, text: texts[i]! });
    if (lastTime === time) {
      let t = time;
      for (let k = 1; k < out.length && out[k]!.date === t; k++) {
        out[k]!.date++;
        t++;
      }
    } else {
      lastTime = time;
    }
  }
  return out;
}

/** createrepo_c's cr_compare_dependency for libc.so.6(...) names: 2 when `b` is higher. */
function compareLibc(a: string, b: string): number {
  const inner = (s: string) => {
    const o = s.indexOf('(');
    if (o < 0) return undefined;
    const c = s.indexOf(')', o);
    return c < 0 ? null : s.slice(o + 1, c);
  };
  const va = inner(a);
  const vb = inner(b);
  if (va === undefined && vb === undefined) return 0;
  if (va === undefined) return 2;
  if (vb === undefined) return 1;
  if (va === null || vb === null) return va === null ? 2 : 1;
  const na = va.replace(/^[^0-9]*/, '');
  const nb = vb.replace(/^[^0-9]*/, '');
  if (!na && !nb) return 0;
  if (!na) return 2;
  if (!nb) return 1;
  const r = rpmvercmp(na, nb);
  return r < 0 ? 2 : r;
}
