import { isPrimaryFile, type RpmDependency, type RpmPackage } from '../rpm/package';
import { escapeAttr, escapeText, textElement } from './xml';

/**
 * primary.xml (createrepo_c's xml_dump_primary.c layout): one <package> per rpm with its
 * identity, checksum, sizes, location, dependencies and the files that dependency solving
 * needs (/etc/*, *bin/*, /usr/lib/sendmail). Written as one fragment per package so that the
 * publish cache can keep fragments and reassemble a document without re-reading rpms.
 */

/** Where the signed rpm is and what it is: the file, not the header, is what yum checks. */
export interface PackageFile {
  /** Path relative to the repository root (the directory that holds repodata/). */
  href: string;
  /** Hex SHA-256 of the file as published (signed): the package id in every repodata file. */
  sha256: string;
  /** Size of the file in bytes. */
  size: number;
  /** Modification time of the file, seconds since the epoch. */
  mtime: number;
}

export const PRIMARY_NS = 'http://linux.duke.edu/metadata/common';
export const RPM_NS = 'http://linux.duke.edu/metadata/rpm';

export function primaryHead(packages: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="${PRIMARY_NS}" xmlns:rpm="${RPM_NS}" packages="${packages}">\n`;
}
export const PRIMARY_TAIL = '</metadata>\n';

/** `<version epoch= ver= rel=/>` (also used by filelists and other). */
export function versionElement(pkg: Pick<RpmPackage, 'epoch' | 'version' | 'release'>): string {
  return `<version epoch="${pkg.epoch}" ver="${escapeAttr(pkg.version)}" rel="${escapeAttr(pkg.release)}"/>`;
}

function entryElement(d: RpmDependency): string {
  let s = `<rpm:entry name="${escapeAttr(d.name)}"`;
  if (d.flags) s += ` flags="${d.flags}"`;
  if (d.epoch !== undefined) s += ` epoch="${escapeAttr(d.epoch)}"`;
  if (d.version !== undefined) s += ` ver="${escapeAttr(d.version)}"`;
  if (d.release !== undefined) s += ` rel="${escapeAttr(d.release)}"`;
  if (d.pre) s += ' pre="1"';
  return s + '/>';
}

function depSection(tag: string, deps: readonly RpmDependency[]): string {
  if (deps.length === 0) return '';
  return `    <rpm:${tag}>\n${deps.map((d) => `      ${entryElement(d)}\n`).join('')}    </rpm:${tag}>\n`;
}

export function fileElement(path: string, type: 'file' | 'dir' | 'ghost', indent: string): string {
  return type === 'file' ? `${indent}<file>${escapeText(path)}</file>\n` : `${indent}<file type="${type}">${escapeText(path)}</file>\n`;
}

/** One <package> element of primary.xml. */
export function primaryPackage(pkg: RpmPackage, file: PackageFile): string {
  return '<package type="rpm">\n'
    + `  ${textElement('name', pkg.name)}\n`
    + `  ${textElement('arch', pkg.arch)}\n`
    + `  ${versionElement(pkg)}\n`
    + `  <checksum type="sha256" pkgid="YES">${file.sha256}</checksum>\n`
    + `  ${textElement('summary', pkg.summary)}\n`
    + `  ${textElement('description', pkg.description)}\n`
    + `  ${textElement('packager', pkg.packager)}\n`
    + `  ${textElement('url', pkg.url)}\n`
    + `  <time file="${file.mtime}" build="${pkg.buildTime}"/>\n`
    + `  <size package="${file.size}" installed="${pkg.installedSize}" archive="${pkg.archiveSize}"/>\n`
    + `  <location href="${escapeAttr(file.href)}"/>\n`
    + '  <format>\n'
    + `    ${textElement('rpm:license', pkg.license)}\n`
    + `    ${textElement('rpm:vendor', pkg.vendor)}\n`
    + `    ${textElement('rpm:group', pkg.group)}\n`
    + `    ${textElement('rpm:buildhost', pkg.buildhost)}\n`
    + `    ${textElement('rpm:sourcerpm', pkg.sourcerpm)}\n`
    + `    <rpm:header-range start="${pkg.headerStart}" end="${pkg.headerEnd}"/>\n`
    + depSection('provides', pkg.provides)
    + depSection('requires', pkg.requires)
    + depSection('conflicts', pkg.conflicts)
    + depSection('obsoletes', pkg.obsoletes)
    + depSection('suggests', pkg.suggests)
    + depSection('enhances', pkg.enhances)
    + depSection('recommends', pkg.recommends)
    + depSection('supplements', pkg.supplements)
    + pkg.files.filter((f) => isPrimaryFile(f.path)).map((f) => fileElement(f.path, f.type, '    ')).join('')
    + '  </format>\n'
    + '</package>\n';
}
