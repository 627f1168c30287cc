/**
 * Publish order: every crate after the crates of the same run it depends on (Kahn's algorithm),
 * otherwise in the order given, so that the same input always gives the same order.
 */
import { UsageError } from '@pkgfleet/shared';

export interface Node {
  name: string;
  /** Names of other nodes this one needs first (names outside the set are ignored). */
  after: string[];
}

export function publishOrder<T extends Node>(nodes: readonly T[]): T[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const pending = new Map(nodes.map((n) => [n.name, new Set(n.after.filter((a) => byName.has(a) && a !== n.name))]));
  const out: T[] = [];
  while (pending.size > 0) {
    const ready = nodes.find((n) => pending.get(n.name)?.size === 0);
    if (!ready) {
      const cycle = [...pending.keys()].join(', ');
      throw new UsageError(`crates depend on each other in a cycle: ${cycle}`, 'a dependency cycle can only go through dev-dependencies that have no version; remove the version of one of them');
    }
    out.push(ready);
    pending.delete(ready.name);
    for (const deps of pending.values()) deps.delete(ready.name);
  }
  return out;
}
