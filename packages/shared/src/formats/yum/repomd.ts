import { escapeAttr } from './xml';

/**
 * repomd.xml: the index of a repodata/ directory. Each record names a metadata file by a
 * hash-prefixed name, with the checksum and size of the compressed file and of its content
 * ("open"), so that a client can check both. Pure: the caller passes `revision`/timestamps.
 */

export type RepodataType = 'primary' | 'filelists' | 'other';

export interface RepomdRecord {
  type: RepodataType;
  /** Path relative to the repository root, e.g. `repodata/<sha256>-primary.xml.gz`. */
  href: string;
  /** Hex SHA-256 of the compressed file. */
  checksum: string;
  size: number;
  /** Hex SHA-256 and size of the uncompressed XML. */
  openChecksum: string;
  openSize: number;
  /** Seconds since the epoch. */
  timestamp: number;
}

/** The hash-prefixed file name createrepo_c uses (--unique-md-filenames, its default). */
export function repodataFileName(type: RepodataType, checksum: string): string {
  return `${checksum}-${type}.xml.gz`;
}

export function repomdXml(revision: string | number, records: readonly RepomdRecord[]): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n'
    + `  <revision>${escapeAttr(String(revision))}</revision>\n`
    + records.map((r) => `  <data type="${r.type}">\n`
      + `    <checksum type="sha256">${r.checksum}</checksum>\n`
      + `    <open-checksum type="sha256">${r.openChecksum}</open-checksum>\n`
      + `    <location href="${escapeAttr(r.href)}"/>\n`
      + `    <timestamp>${r.timestamp}</timestamp>\n`
      + `    <size>${r.size}</size>\n`
      + `    <open-size>${r.openSize}</open-size>\n`
      + '  </data>\n').join('')
    + '</repomd>\n';
}
