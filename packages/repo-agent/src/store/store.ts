import type { Readable } from 'node:stream';
import type { GraceEntry, ManifestEntry } from '@pkgfleet/shared';
import type { HeldLock } from './lock';

/**
 * Where snapshots go. A directory on the repo server today (DirStore); S3-compatible object
 * storage behind a CDN later, with the same rule: content first, the pointer last. Everything a
 * deploy, rollback, gc or verify does goes through this interface.
 */

/** What is kept beside each snapshot: its manifest and the files carried for the grace period. */
export interface SnapshotRecord {
  id: string;
  /** ISO 8601, when the snapshot was committed. */
  createdAt: string;
  /** The manifest as deployed. */
  entries: ManifestEntry[];
  /** Hash-named files of earlier snapshots kept present until their deadline. */
  grace: GraceEntry[];
}

/** Where the store can take a file's content from without receiving it again. */
export type ContentRef = { snapshot: string; path: string } | { staged: string };

export interface StagedSnapshot {
  readonly id: string;
  /** Store one file from a stream, checking its size and SHA-256 while it streams. */
  write(entry: ManifestEntry, content: Readable): Promise<void>;
  /** Place a file whose content the store already holds (hard link, server-side copy…). */
  place(entry: ManifestEntry, from: ContentRef): Promise<void>;
  /**
   * Lay out the directories of `files` (the whole snapshot: entries and carried grace files)
   * before any write or place. A snapshot staged over a prepared tree (begin with useSpare) keeps
   * the files it already holds with the same path, SHA-256, size and mode, and removes the rest;
   * paths in `replace` are never kept (their content arrives in the tar stream). Returns the
   * paths kept: the caller must neither write nor place them.
   */
  prepare(files: readonly ManifestEntry[], replace: ReadonlySet<string>): Promise<Set<string>>;
  /** The bytes of a small staged file (signatures, Release, repomd.xml). */
  readFile(path: string): Promise<Buffer>;
  /** Make everything staged so far durable (commit does it too, if not done before). */
  flush(): Promise<void>;
  /** Make the snapshot durable and known to list(); it is not live yet. */
  commit(record: SnapshotRecord): Promise<void>;
  /** Throw away everything staged. Never touches committed snapshots. */
  abort(): Promise<void>;
}

export interface Store {
  /** Where it is, for messages (a path, a bucket URL). */
  readonly location: string;
  /** Committed snapshots, oldest first. */
  list(): Promise<SnapshotRecord[]>;
  record(id: string): Promise<SnapshotRecord>;
  /** The id of the live snapshot, if any. */
  live(): Promise<string | undefined>;
  /**
   * Start staging snapshot `id` (must not exist). Call under the lock. With useSpare, over the
   * tree prepareSpare made, if there is one.
   */
  begin(id: string, opts?: { useSpare?: boolean }): Promise<StagedSnapshot>;
  /**
   * Make a private copy of committed snapshot `record` for the next begin({ useSpare }) to start
   * from, so a deploy changes what differs instead of laying out every directory and link again.
   * Call under the lock.
   */
  prepareSpare?(record: SnapshotRecord): Promise<void>;
  /** Make `id` live in one step. Call under the lock. */
  activate(id: string): Promise<void>;
  /** Delete a snapshot that is not live. Call under the lock. */
  remove(id: string): Promise<void>;
  /** Read one file of a committed snapshot (verify). */
  open(id: string, path: string): Promise<Readable>;
  /** Every file of a committed snapshot with size, SHA-256 and mode as found now (verify). */
  scan(id: string): Promise<ManifestEntry[]>;
  /** The store's write lock (deploy, activate, rollback, gc). */
  lock(op: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<HeldLock>;
  /** Remove what an interrupted operation left behind. Call under the lock. */
  recover(): Promise<void>;
}
