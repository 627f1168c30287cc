import type { RpmPackage } from '../rpm/package';
import { versionElement, type PackageFile } from './primary';
import { escapeAttr, escapeText } from './xml';

/** other.xml: changelogs (createrepo_c's layout; the limit is applied when reading the rpm). */

export function otherHead(packages: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<otherdata xmlns="http://linux.duke.edu/metadata/other" packages="${packages}">\n`;
}
export const OTHER_TAIL = '</otherdata>\n';

export function otherPackage(pkg: RpmPackage, file: Pick<PackageFile, 'sha256'>): string {
  return `<package pkgid="${file.sha256}" name="${escapeAttr(pkg.name)}" arch="${escapeAttr(pkg.arch)}">\n`
    + `  ${versionElement(pkg)}\n`
    + pkg.changelogs.map((c) => `  <changelog author="${escapeAttr(c.author)}" date="${c.date}">${escapeText(c.text)}</changelog>\n`).join('')
    + '</package>\n';
}
