import type { Logger } from '@pkgfleet/shared';
import type { Machine, Provider } from '../providers/provider';

export interface ReapOptions {
  olderThanMs: number;
  now?: () => number;
  logger: Logger;
  signal?: AbortSignal;
  dryRun?: boolean;
}

/**
 * Delete fleet machines created more than `olderThanMs` ago: what a crashed or cancelled run left
 * behind. Only machines carrying the fleet tag are considered (the provider lists only those and
 * this checks again); a machine without a creation time is left alone.
 */
export async function reapMachines(provider: Provider, opts: ReapOptions): Promise<Machine[]> {
  const now = (opts.now ?? Date.now)();
  const cutoff = now - opts.olderThanMs;
  const old = (await provider.list()).filter((m) => m.fleet && Number.isFinite(m.createdAt.getTime()) && m.createdAt.getTime() < cutoff);
  const reaped: Machine[] = [];
  for (const m of old) {
    const ageH = ((now - m.createdAt.getTime()) / 3_600_000).toFixed(1);
    if (opts.dryRun) {
      opts.logger.info('would reap machine', { id: m.id, name: m.name, release: m.release, target: m.target, ageHours: ageH });
      reaped.push(m);
      continue;
    }
    if (await provider.deleteMachine(m.id, opts.signal)) {
      opts.logger.info('reaped machine', { id: m.id, name: m.name, release: m.release, target: m.target, ageHours: ageH });
      reaped.push(m);
    }
  }
  return reaped;
}
