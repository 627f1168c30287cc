import { formatStanza, type Field } from '../deb/control';

/**
 * Packages index stanzas (DebianRepository/Format "Packages Indices"): the package's control
 * fields plus Filename, Size and the hashes, in the order apt-ftparchive writes them
 * (apt-pkg/tagfile-order.c); fields apt does not know keep their order, after the known ones.
 */
export const PACKAGE_FIELD_ORDER = [
  'Package', 'Package-Type', 'Architecture', 'Architecture-Variant', 'Subarchitecture', 'Version',
  'Revision', 'Package-Revision', 'Package_Revision', 'Kernel-Version', 'Built-Using', 'Static-Built-Using',
  'Built-For-Profiles', 'Auto-Built-Package', 'Multi-Arch', 'Status', 'Priority', 'Class', 'Essential',
  'Installer-Menu-Item', 'Section', 'Source', 'Origin', 'Maintainer', 'Original-Maintainer', 'Bugs',
  'Config-Version', 'Conffiles', 'Triggers-Awaited', 'Triggers-Pending', 'Installed-Size', 'Provides',
  'Pre-Depends', 'Depends', 'Recommends', 'Recommended', 'Suggests', 'Optional', 'Conflicts', 'Breaks',
  'Replaces', 'Enhances', 'Filename', 'MSDOS-Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512',
  'Homepage', 'Description', 'Tag', 'Task',
];
const RANK = new Map(PACKAGE_FIELD_ORDER.map((name, i) => [name.toLowerCase(), i]));

/** Size and hashes of a file, hex digests. */
export interface FileHashes {
  size: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
}

/** Fields that the archive sets; a package's own copy of them is dropped. */
const ARCHIVE_FIELDS = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512', 'status']);
const UNKNOWN = PACKAGE_FIELD_ORDER.length;

/**
 * Rank of a field name as written, times two, plus one for an archive field (a few distinct
 * spellings recur thousands of times per index: no toLowerCase per field).
 */
const rankMemo = new Map<string, number>();
function rankOf(name: string): number {
  let r = rankMemo.get(name);
  if (r === undefined) {
    const lower = name.toLowerCase();
    r = (RANK.get(lower) ?? UNKNOWN) * 2 + (ARCHIVE_FIELDS.has(lower) ? 1 : 0);
    if (rankMemo.size < 4096) rankMemo.set(name, r);
  }
  return r;
}
const ARCHIVE_RANKS = ['Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512'].map(rankOf);

/** One Packages stanza (with its trailing newline, without the blank separator line). */
export function packagesStanza(control: readonly Field[], filename: string, file: FileHashes): string {
  const fields: Array<{ r: number; name: string; value: string }> = [];
  for (const f of control) {
    const r = rankOf(f.name);
    if ((r & 1) === 0) fields.push({ r, name: f.name, value: f.value });
  }
  const [rf, rs, rm, r1, r256, r512] = ARCHIVE_RANKS as [number, number, number, number, number, number];
  fields.push(
    { r: rf, name: 'Filename', value: filename },
    { r: rs, name: 'Size', value: String(file.size) },
    { r: rm, name: 'MD5sum', value: file.md5 },
    { r: r1, name: 'SHA1', value: file.sha1 },
    { r: r256, name: 'SHA256', value: file.sha256 },
    { r: r512, name: 'SHA512', value: file.sha512 },
  );
  // stable by rank (Array.prototype.sort is stable): unknown fields keep their order
  fields.sort((a, b) => a.r - b.r);
  return formatStanza(fields);
}

/** A Packages file from stanzas already in their final order. */
export function packagesFile(stanzas: readonly string[]): string {
  return stanzas.join('\n');
}

/** pool/<component>/<prefix>/<source>/: "lib" sources get four letters of prefix (Debian policy). */
export function poolDirectory(component: string, source: string): string {
  const prefix = source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source.slice(0, 1);
  return `pool/${component}/${prefix}/${source}`;
}

/** Debian's file name: package_version-without-epoch_arch.deb. */
export function debFileName(pkg: string, version: string, arch: string): string {
  const colon = version.indexOf(':');
  return `${pkg}_${colon >= 0 ? version.slice(colon + 1) : version}_${arch}.deb`;
}
