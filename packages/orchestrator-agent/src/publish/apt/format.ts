import type { RepoFormat } from '../format';
import { ingestDebs, type DebRecord } from './ingest';
import { planApt } from './plan';
import { emptyAptState, parseAptState, type AptState } from './state';
import { APT_DIR, writeApt } from './write';

/**
 * The apt format for one publish (it remembers the previous state and the new inputs between
 * plan and write, so make a new one per publish).
 */
export function createAptFormat(): RepoFormat<AptState, DebRecord> {
  let previous: AptState = emptyAptState();
  const inputs = new Map<string, DebRecord>();
  const copies = new Set<string>();
  return {
    name: 'apt',
    extensions: ['.deb'],
    dir: APT_DIR,
    emptyState: emptyAptState,
    parseState: parseAptState,
    ingest: ingestDebs,
    plan(prev, records, ctx) {
      previous = prev;
      const next = planApt(prev, records, ctx.suite, ctx.settings);
      const byKey = new Map(Object.values(next.pool).map((e) => [`${e.package}\0${e.version}\0${e.architecture}`, e]));
      for (const r of records) {
        if (r.copy) copies.add(r.copy.path);
        const e = byKey.get(`${r.package}\0${r.version}\0${r.architecture}`);
        if (e && e.sha256 === r.sha256) inputs.set(e.filename, r);
      }
      return next;
    },
    write: (state, ctx) => writeApt(previous, state, inputs, copies, ctx),
  };
}
