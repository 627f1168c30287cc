import type { RepoFormat } from '../format';
import { ingestRpms, type RpmRecord } from './ingest';
import { planYum } from './plan';
import { emptyYumState, parseYumState, type YumState } from './state';
import { writeYum, YUM_DIR } from './write';

/**
 * The yum format for one publish (it remembers the previous state and the new inputs between
 * plan and write, so make a new one per publish).
 */
export function createYumFormat(): RepoFormat<YumState, RpmRecord> {
  let previous: YumState = emptyYumState();
  const inputs = new Map<string, RpmRecord>();
  return {
    name: 'yum',
    extensions: ['.rpm'],
    dir: YUM_DIR,
    emptyState: emptyYumState,
    parseState: parseYumState,
    ingest: ingestRpms,
    plan(prev, records, ctx) {
      previous = prev;
      for (const r of records) inputs.set(r.headerSha256, r);
      return planYum(prev, records, ctx.suite, ctx.settings);
    },
    write: (state, ctx) => writeYum(previous, state, inputs, ctx),
  };
}
