import type { RpmPackage } from '../rpm/package';
import { fileElement, versionElement, type PackageFile } from './primary';
import { escapeAttr } from './xml';

/** filelists.xml: every file of every package, with its type (createrepo_c's layout). */

export function filelistsHead(packages: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/filelists" packages="${packages}">\n`;
}
export const FILELISTS_TAIL = '</filelists>\n';

export function filelistsPackage(pkg: RpmPackage, file: Pick<PackageFile, 'sha256'>): string {
  return `<package pkgid="${file.sha256}" name="${escapeAttr(pkg.name)}" arch="${escapeAttr(pkg.arch)}">\n`
    + `  ${versionElement(pkg)}\n`
    + pkg.files.map((f) => fileElement(f.path, f.type, '  ')).join('')
    + '</package>\n';
}
