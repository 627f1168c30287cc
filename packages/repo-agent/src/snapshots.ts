import { PkgfleetError } from '@pkgfleet/shared';
import { verifySnapshotSignatures, type TrustedKey } from './deploy/signatures';
import type { SnapshotRecord, Store } from './store/store';

/**
 * The snapshot operations behind list, activate, rollback, gc and verify. Writers take the
 * store's lock, so none of them runs in the middle of a deploy.
 */

export class SnapshotError extends PkgfleetError {}

export interface SnapshotSummary {
  id: string;
  createdAt: string;
  live: boolean;
  files: number;
  bytes: number;
  /** Files carried from earlier snapshots for the grace period. */
  graceFiles: number;
}

export async function listSnapshots(store: Store): Promise<{ live: string | undefined; snapshots: SnapshotSummary[] }> {
  const live = await store.live();
  const snapshots = (await store.list()).map((r) => ({
    id: r.id,
    createdAt: r.createdAt,
    live: r.id === live,
    files: r.entries.length,
    bytes: r.entries.reduce((n, e) => n + e.size, 0),
    graceFiles: r.grace.length,
  }));
  return { live, snapshots };
}

async function locked<T>(store: Store, op: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = await store.lock(op, { timeoutMs });
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Make `id` live (symlink swap: O(1) whatever the snapshot's size). */
export async function activateSnapshot(store: Store, id: string, timeoutMs: number): Promise<{ previous: string | undefined }> {
  return locked(store, `activate ${id}`, timeoutMs, async () => {
    const previous = await store.live();
    await store.activate(id);
    return { previous };
  });
}

/** Go back to `to`, or to the snapshot made just before the live one. */
export async function rollback(store: Store, to: string | undefined, timeoutMs: number): Promise<{ from: string | undefined; to: string }> {
  return locked(store, 'rollback', timeoutMs, async () => {
    const live = await store.live();
    let target = to;
    if (target === undefined) {
      const list = await store.list();
      const i = list.findIndex((r) => r.id === live);
      const before = i > 0 ? list[i - 1] : i === -1 ? list[list.length - 1] : undefined;
      if (!before) {
        throw new SnapshotError('E_ROLLBACK_NONE', `no snapshot older than the live one (${live ?? 'none'}) is on disk`, 'run `repo-agent list`; gc may have removed it');
      }
      target = before.id;
    }
    if (target === live) throw new SnapshotError('E_ROLLBACK_SAME', `snapshot ${target} is already live`);
    await store.activate(target);
    return { from: live, to: target };
  });
}

/** Remove all but the `keep` newest snapshots; never the live one. Also clears interrupted leftovers. */
export async function gc(store: Store, keep: number, timeoutMs: number): Promise<{ removed: string[]; kept: string[] }> {
  if (!Number.isInteger(keep) || keep < 1) throw new SnapshotError('E_GC_KEEP', `--keep ${keep}: must be a whole number of at least 1`);
  return locked(store, 'gc', timeoutMs, async () => {
    await store.recover();
    const live = await store.live();
    const list = await store.list();
    const newest = new Set(list.slice(-keep).map((r) => r.id));
    const removed: string[] = [];
    for (const r of list) {
      if (newest.has(r.id) || r.id === live) continue;
      await store.remove(r.id);
      removed.push(r.id);
    }
    // A spare tree copied from a removed snapshot would keep its content on disk: drop it too.
    if (removed.length) await store.recover();
    return { removed, kept: list.map((r) => r.id).filter((id) => !removed.includes(id)) };
  });
}

export interface VerifyReport {
  id: string;
  files: number;
  bytes: number;
  signatures: number;
  indexes: number;
}

/**
 * Re-hash every file of a snapshot against its record (nothing missing, nothing extra, nothing
 * changed) and re-check its signatures against the trusted key.
 */
export async function verifySnapshot(store: Store, id: string, key: TrustedKey): Promise<VerifyReport> {
  const record: SnapshotRecord = await store.record(id);
  const expected = new Map([...record.entries, ...record.grace].map((e) => [e.path, e]));
  const found = await store.scan(id);
  const problems: string[] = [];
  let bytes = 0;
  for (const f of found) {
    const e = expected.get(f.path);
    bytes += f.size;
    if (!e) problems.push(`${f.path}: not in the snapshot's manifest`);
    else if (e.sha256 !== f.sha256 || e.size !== f.size) problems.push(`${f.path}: ${f.size} bytes with SHA-256 ${f.sha256}, expected ${e.size} bytes with ${e.sha256}`);
    else if (e.mode !== f.mode) problems.push(`${f.path}: mode ${f.mode.toString(8)}, expected ${e.mode.toString(8)}`);
    expected.delete(f.path);
  }
  for (const path of expected.keys()) problems.push(`${path}: missing`);
  if (problems.length) {
    throw new SnapshotError(
      'E_VERIFY',
      `snapshot ${id}: ${problems.length} file(s) do not match: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}`,
      'the snapshot was changed on disk: roll back to another one and redeploy',
    );
  }
  const read = async (path: string) => {
    const chunks: Buffer[] = [];
    for await (const c of await store.open(id, path)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  const report = await verifySnapshotSignatures(record.entries, read, key, `snapshot ${id}`);
  return { id, files: found.length, bytes, ...report };
}
