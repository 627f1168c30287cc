import { PublishError } from '../format';
import type { DocumentLayout } from './documents';
import type { RepodataPart } from './fragments';

/**
 * What the yum part of a published tree holds, persisted with the tree (ROOT/state/<id>.json).
 * Adding one rpm to a channel reads no other rpm: the next publish links the signed files and
 * reuses every other package's <package> elements from the live tree's repodata (fragments.ts).
 * Version 1 states kept those elements here too (2.8 MB of JSON for 1000 rpms, parsed and
 * written again by every publish); they are still read, and written without them.
 */
export interface YumPackage {
  name: string;
  epoch: number;
  version: string;
  release: string;
  /** rpm arch: x86_64, aarch64, noarch (noarch goes into every arch repository). */
  arch: string;
  /** Path of the signed rpm inside each arch repository: Packages/h/hello-1.0-1.x86_64.rpm */
  href: string;
  /** SHA-256 of the main header: the build's identity (signing does not change it). */
  headerSha256: string;
  /** Set once the signed file exists (write): its checksum, size, time and signing key. */
  signed?: {
    sha256: string;
    size: number;
    /** Seconds since the epoch: the publish that signed it (primary's time file). */
    time: number;
    fingerprint: string;
    /** Version 1 states only: the package's elements of primary, filelists and other. */
    primary?: string;
    filelists?: string;
    other?: string;
  };
}

export interface ChannelState {
  /** Sorted by name, arch, then version order. */
  packages: YumPackage[];
  /** Every file under rpm/<channel>/ (relative to it), to carry the channel over unchanged. */
  files?: string[];
  /** Per arch repository, how its repodata documents are laid out, to append to them (documents.ts). */
  docs?: Record<string, Record<RepodataPart, ChannelDocument>>;
  /** How this tree's channel directory was made from the tree live before it (ChannelFiles in write.ts). */
  change?: ChannelChange;
}

export interface ChannelDocument extends DocumentLayout {
  /** Relative to the arch repository: repodata/<sha256>-primary.xml.gz */
  href: string;
}

export interface ChannelChange {
  /** The id of the tree this one was built from (live when it was published). */
  builtFrom: string;
  /** Files (relative to rpm/<channel>/) written by that publish: not hard links of builtFrom's. */
  fresh: string[];
  /** builtFrom's files that this tree does not hold as the same file (removed or replaced). */
  extra: string[];
}

export interface YumState {
  version: 2;
  channels: Record<string, ChannelState>;
}

export function emptyYumState(): YumState {
  return { version: 2, channels: {} };
}

export function parseYumState(raw: unknown): YumState {
  const s = raw as { version?: number; channels?: unknown } | undefined;
  if (!s || typeof s !== 'object' || (s.version !== 1 && s.version !== 2) || typeof s.channels !== 'object' || s.channels === null) {
    throw new PublishError('E_PUBLISH_STATE', 'the yum state of the live tree is not readable (written by another version?)', 'publish into a new --root, or restore ROOT/state from a backup');
  }
  return { version: 2, channels: s.channels as YumState['channels'] };
}

/** Where a package lives in the arch repository (Fedora-style Packages/<letter>/). */
export function packageHref(name: string, version: string, release: string, arch: string): string {
  const file = `${name}-${version}-${release}.${arch}.rpm`;
  return `Packages/${name[0]!.toLowerCase()}/${file}`;
}

/** Debian architecture names (repoArchitectures) to rpm's. */
const RPM_ARCH: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', i386: 'i686', armhf: 'armv7hl', ppc64el: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The arch repositories a channel has: one per configured architecture. */
export function yumArches(architectures: readonly string[]): string[] {
  return [...new Set(architectures.map((a) => RPM_ARCH[a] ?? a))];
}
