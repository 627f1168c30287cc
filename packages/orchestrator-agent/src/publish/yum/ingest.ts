import { open } from 'node:fs/promises';
import {
  checkHeaderDigests, headerSha256, packageFromRpm, readRpm, RpmFormatError, rpmPrefixLength, type RpmPackage,
} from '@pkgfleet/shared';
import { identityOf, type FileIdentity } from '../cache';
import { PublishError, type FormatContext } from '../format';
import { yumArches } from './state';

/** What planning needs to know of an rpm (the full header is read again when signing). */
export type RpmIdentity = Pick<RpmPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch' | 'isSource'>;

/** A new .rpm given to `repo publish`: what its header says (the payload is read when signing). */
export interface RpmRecord {
  input: string;
  headerSha256: string;
  /** Bytes of lead + signature header + header. */
  prefixLength: number;
  pkg: RpmIdentity;
}

/** Cached per file identity; bump the kind when the record's shape changes. */
const CACHE_KIND = 'rpm-v2';
type Cached = Omit<RpmRecord, 'input'>;

/** Lead + both headers of an rpm, read in as few reads as needed (never the payload). */
export async function readRpmPrefix(path: string, first = 64 * 1024): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let buf = Buffer.alloc(0);
    let want = Math.min(first, size);
    for (;;) {
      const more = Buffer.alloc(want - buf.length);
      const { bytesRead } = await fh.read(more, 0, more.length, buf.length);
      buf = Buffer.concat([buf, more.subarray(0, bytesRead)]);
      const need = rpmPrefixLength(buf, path);
      if (need <= buf.length) return buf.subarray(0, need);
      // the sizes in the headers are checked against the file before anything is allocated
      if (need > size || bytesRead < more.length) {
        throw new RpmFormatError('E_RPM_TRUNCATED', `${path}: truncated (the headers need ${need} bytes, the file has ${size})`, 'the file was cut short: copy it again');
      }
      want = need;
    }
  } finally {
    await fh.close();
  }
}

async function readRecord(input: string): Promise<Cached> {
  const prefix = await readRpmPrefix(input);
  const rpm = readRpm(prefix, input);
  checkHeaderDigests(rpm);
  const { name, epoch, version, release, arch, isSource } = packageFromRpm(rpm);
  return { headerSha256: headerSha256(rpm), prefixLength: rpm.layout.headerEnd, pkg: { name, epoch, version, release, arch, isSource } };
}

/**
 * Read the headers of the new .rpm files, check them against the settings: source rpms and
 * arches without a repository are refused, naming the file.
 */
export async function ingestRpms(files: readonly string[], ctx: FormatContext): Promise<RpmRecord[]> {
  const arches = new Set(yumArches(ctx.settings.architectures));
  const out: RpmRecord[] = [];
  const queue = [...files];
  const worker = async () => {
    for (let input = queue.shift(); input !== undefined; input = queue.shift()) {
      let id: FileIdentity;
      try {
        id = await identityOf(input);
      } catch (err) {
        throw new PublishError('E_PUBLISH_INPUT', `${input}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, undefined, { cause: err });
      }
      let rec = ctx.cache.get<Cached>(CACHE_KIND, id);
      if (!rec) {
        rec = await readRecord(input);
        ctx.cache.set<Cached>(CACHE_KIND, id, rec);
      }
      out.push({ ...rec, input });
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  out.sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
  for (const r of out) {
    if (r.pkg.isSource) {
      throw new PublishError('E_PUBLISH_SOURCE_RPM', `${r.input}: is a source rpm (${r.pkg.name}-${r.pkg.version}-${r.pkg.release}.src.rpm); channel "${ctx.suite}" holds binary packages`, 'publish the binary rpms that rpmbuild -bb made, not the .src.rpm');
    }
    if (r.pkg.arch !== 'noarch' && !arches.has(r.pkg.arch)) {
      throw new PublishError('E_PUBLISH_ARCH', `${r.input}: arch "${r.pkg.arch}" has no repository (repoArchitectures give: ${[...arches].join(', ')}, plus noarch)`, 'add the architecture to repoArchitectures in the config, or leave the package out');
    }
  }
  return out;
}
