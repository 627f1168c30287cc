import type { FileHashes } from '@pkgfleet/shared';
import { PublishError } from '../format';

/**
 * What the apt part of a published tree holds, persisted with the tree (ROOT/state/<id>.json) so
 * that the next publish reads no pool file again.
 */
export interface PoolEntry extends FileHashes {
  package: string;
  version: string;
  architecture: string;
  source: string;
  /** Relative to apt/: pool/main/h/hello/hello_1.0-1_amd64.deb */
  filename: string;
  /** DEBIAN/control fields, in order: [name, value]. */
  control: [string, string][];
}

export interface IndexState {
  /** How its stanzas are written (write.ts INDEX_FORMAT; absent: before appending existed). */
  format?: number;
  /** SHA-256 of the uncompressed Packages text. */
  packagesSha256: string;
  /** Size and hashes of Packages, Packages.gz, Packages.xz as published. */
  files: Record<string, FileHashes>;
  /** Publishes that appended stanzas since the index was last written whole, in order (write.ts). */
  appended?: number;
}

export interface SuiteState {
  /** Pool filenames in this suite, sorted. */
  packages: string[];
  indexes: Record<string, IndexState>;
  /** Every file under dists/<suite>/ (relative to it), to carry the suite over unchanged. */
  distFiles: string[];
  /** by-hash paths (relative to dists/<suite>/) per generation, newest first. */
  byHash: string[][];
}

/** How a tree's pool was made from the live tree of its publish (`builtFrom`). */
export interface PoolChange {
  builtFrom: string;
  /** Pool filenames put in new (not hard links of builtFrom's files). */
  added: string[];
  /** Pool filenames of builtFrom that this tree no longer has. */
  removed: string[];
}

export interface AptState {
  version: 1;
  pool: Record<string, PoolEntry>;
  suites: Record<string, SuiteState>;
  /** Lets the next publish but one, which builds over builtFrom's retired tree, know what it holds. */
  change?: PoolChange;
}

export function emptyAptState(): AptState {
  return { version: 1, pool: {}, suites: {} };
}

export function parseAptState(raw: unknown): AptState {
  const s = raw as Partial<AptState> | undefined;
  if (!s || typeof s !== 'object' || s.version !== 1 || typeof s.pool !== 'object' || typeof s.suites !== 'object') {
    throw new PublishError('E_PUBLISH_STATE', 'the apt state of the live tree is not readable (written by another version?)', 'publish into a new --root, or restore ROOT/state from a backup');
  }
  const c = s.change;
  // a record that does not look right only costs the next publish its shortcut
  if (c !== undefined && (typeof c.builtFrom !== 'string' || !Array.isArray(c.added) || !Array.isArray(c.removed))) delete s.change;
  return s as AptState;
}
