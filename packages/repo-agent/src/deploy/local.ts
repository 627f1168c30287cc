import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { packTree, scanTree } from '@pkgfleet/shared';
import type { Store } from '../store/store';
import { beginDeploy, type DeployOptions, type DeployResult } from './receive';

/** The tree to deploy from `dir`: a root written by `repo publish` serves DIR/current; else DIR itself. */
export function treeOf(dir: string): string {
  const current = join(dir, 'current');
  return existsSync(current) ? realpathSync(current) : dir;
}

/**
 * Deploy a repository tree from a local directory (no network): the same path as a deploy from
 * the orchestrator — manifest, lacking list, a tar stream of just that, verify, commit, swap.
 * Used by `repo-agent import`, the embedded demo and tests.
 */
export async function deployFromDirectory(store: Store, from: string, opts: DeployOptions): Promise<DeployResult> {
  const dir = treeOf(from);
  const manifest = await scanTree(dir);
  const pending = await beginDeploy(store, manifest, opts);
  let stream;
  try {
    stream = packTree(dir, pending.lacking);
  } catch (err) {
    await pending.abort();
    throw err;
  }
  return pending.receive(stream);
}
