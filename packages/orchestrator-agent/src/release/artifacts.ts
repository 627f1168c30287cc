import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { IncomingStore, TimeoutError, type Logger, type TargetManifest } from '@pkgfleet/shared';

/**
 * Waiting for a release's artifacts: a target has delivered when files of it landed and nothing
 * of it is still half-received (no part file in incoming/<release>/<target>/.partial).
 */
export function deliveredTargets(incoming: IncomingStore, manifests: TargetManifest[]): string[] {
  return manifests
    .filter((m) => m.files.length > 0)
    .filter((m) => {
      const partial = join(incoming.dirFor(m.release, m.target), '.partial');
      return !existsSync(partial) || readdirSync(partial).length === 0;
    })
    .map((m) => m.target);
}

export async function waitForArtifacts(incoming: IncomingStore, release: string, expect: string[], opts: { timeoutMs: number; logger: Logger; signal?: AbortSignal; pollMs?: number }): Promise<TargetManifest[]> {
  const deadline = Date.now() + opts.timeoutMs;
  let reported = '';
  for (;;) {
    const manifests = await incoming.list(release);
    const delivered = deliveredTargets(incoming, manifests);
    const missing = expect.filter((t) => !delivered.includes(t));
    if (missing.length === 0) return manifests.filter((m) => delivered.includes(m.target));
    const state = `delivered: ${delivered.join(', ') || 'none'}; waiting for: ${missing.join(', ')}`;
    if (state !== reported) {
      opts.logger.info(`release ${release}: ${state}`);
      reported = state;
    }
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (Date.now() >= deadline) {
      const got = manifests.map((m) => `${m.target} (${m.files.length} file${m.files.length === 1 ? '' : 's'})`).join(', ') || 'nothing';
      throw new TimeoutError('E_ARTIFACTS_TIMEOUT', `release ${release}: no complete artifacts from ${missing.join(', ')} after ${Math.round(opts.timeoutMs / 1000)} s (arrived: ${got})`, 'check those build jobs: did they run `build-agent push --release ' + release + '`? (`orchestrator-agent artifacts list` shows what arrived)');
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
  }
}
