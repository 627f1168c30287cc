/**
 * The contract between the generic publish pipeline (pipeline.ts) and one repository format
 * (apt/, yum/). Read this before writing a format.
 *
 * The pipeline does everything that is shared:
 *   - expands the PATH arguments (folders too) and hands each format the files whose extension it
 *     claims (`extensions`); a file no format claims fails the publish, naming it;
 *   - loads the Signer, the settings and the previous snapshot's state (what each format returned
 *     as `state` last time, JSON), takes the repository lock;
 *   - stages a NEW tree (`ctx.tree`, see TreeWriter) beside the live one, lets every format write
 *     its part into it, writes the public key to gpg/NAME.asc and gpg/NAME.gpg, then switches the
 *     live tree with one symlink rename. Any error before the rename leaves the live tree (and the
 *     recorded state) exactly as it was; the half-built stage is removed.
 *
 * A format does three things, in this order, each may throw a PkgfleetError naming the file and
 * the problem (the publish then fails and nothing changes):
 *   1. `ingest`: read the NEW input files (only those), validate them against the settings, and
 *      return records. Use `ctx.cache` so that an unchanged file is not read twice.
 *      Must not write into the tree.
 *   2. `plan`: merge the records into the previous state for `ctx.suite` (the channel), apply
 *      retention (`ctx.settings.retention` newest versions per package), refuse conflicts
 *      (same name/version/arch, different content). Returns the new state (JSON-serialisable,
 *      kept by the pipeline and given back as `previous` next time). Pure: no I/O.
 *   3. `write`: put the pool files the new state references into `ctx.tree` (`linkPrevious` for
 *      files already published: a hard link, no read; `mergeIn` for the copies ingest made in
 *      `ctx.copies`, `addFile` for other new inputs) and write and sign
 *      the metadata (`writeFile`, `ctx.signer`). Files the new state no longer references are
 *      simply not carried over: they leave the pool.
 *
 * Everything a format writes lives under its own top directory of the served tree: apt writes
 * `apt/` (pool/, dists/), yum writes `rpm/<channel>/<arch>/`. Output must be deterministic: the same
 * inputs, state and `ctx.now` give the same bytes.
 */
import { PkgfleetError, type Logger, type Signer } from '@pkgfleet/shared';
import type { MetadataCache } from './cache';
import type { RepoSettings } from './settings';
import type { TreeWriter } from './tree';

/** What every step of a format gets. */
export interface FormatContext {
  /** The suite (apt) / channel (yum) being published to: the --channel value. */
  suite: string;
  settings: RepoSettings;
  /** Metadata cache keyed by file identity (device, inode, size, mtime): see cache.ts. */
  cache: MetadataCache;
  /** Release date written into metadata (Date:, repomd revision...). */
  now: Date;
  logger: Logger;
  signal: AbortSignal;
  /**
   * A private directory on the tree's file system where `ingest` may stage new inputs as it reads
   * them: a copy written in the same pass as the hashing (one read instead of two), or a hard
   * link when `linkInputs`; `write` then moves them into the tree with `tree.mergeIn`. The
   * pipeline removes it after the publish, success or not.
   */
  copies?: string;
  /** Inputs are never rewritten in place (they land by rename): hard-link, do not copy them. */
  linkInputs?: boolean;
}

export interface WriteContext extends FormatContext {
  tree: TreeWriter;
  signer: Signer;
  /** The id of the live tree the new one is built from (ctx.tree.previousDir), if any. */
  previousId?: string | undefined;
}

/**
 * One repository format. `S` is the format's own persisted state (what the repo holds), `R` the
 * records `ingest` produces for new input files.
 */
export interface RepoFormat<S = unknown, R = unknown> {
  /** Short name, also the key of its state in the snapshot record: 'apt', 'yum'. */
  readonly name: string;
  /** Lower-case file extensions this format claims, with the dot: ['.deb']. */
  readonly extensions: readonly string[];
  /**
   * The top directory of the served tree this format owns ('apt', 'rpm'). When a publish has no
   * input for this format, the pipeline carries this directory over unchanged (hard links) and
   * keeps the format's state: it is neither re-read nor re-signed.
   */
  readonly dir: string;
  /** The state of an empty repository. */
  emptyState(): S;
  /** Check a state read back from disk (written by an older version?); throw if unusable. */
  parseState(raw: unknown): S;
  /** `previous`: the state `plan` gets next (e.g. to complete what the cache knows of a file). */
  ingest(files: readonly string[], ctx: FormatContext, previous: S): Promise<R[]>;
  plan(previous: S, records: readonly R[], ctx: FormatContext): S;
  write(state: S, ctx: WriteContext): Promise<FormatSummary>;
}

/** One line in the publish log / --json output per format. */
export interface FormatSummary {
  format: string;
  /** Packages (files) in the pool after this publish. */
  packages: number;
  added: string[];
  removed: string[];
  /** Metadata files (re)written, relative to the tree root. */
  metadata: string[];
}

/** A format that is registered but not built yet (yum until it lands). */
export function notBuiltYet(name: string, dir: string, extensions: readonly string[], what: string): RepoFormat {
  return {
    name,
    dir,
    extensions,
    emptyState: () => ({}),
    parseState: (raw) => raw,
    ingest: (files) => {
      throw new PublishError('E_PUBLISH_UNSUPPORTED', `${files[0]}: ${what} support not built yet`, `publish only ${name === 'yum' ? '.deb' : 'supported'} files for now`);
    },
    plan: (prev) => prev,
    write: async () => ({ format: name, packages: 0, added: [], removed: [], metadata: [] }),
  };
}

export class PublishError extends PkgfleetError {}
