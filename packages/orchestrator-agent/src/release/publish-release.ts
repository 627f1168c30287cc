import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { IncomingStore, UsageError, type Logger } from '@pkgfleet/shared';
import type { OrchestratorConfig } from '../config';
import { deployTree, type DeployTreeResult } from '../deploy/client';
import { orchestratorPaths } from '../paths';
import { publish, type PublishResult } from '../publish/pipeline';
import { repoSettings } from '../publish/settings';
import { signerFromFiles } from '../publish/signing';
import { waitForArtifacts } from './artifacts';

/**
 * `publish` (and the publish step of `release`): wait for the expected targets, add everything
 * they delivered to the repository, sign, deploy. A dry run publishes into a scratch copy of the
 * repository and deploys without activation: the repo server verifies it, nothing goes live.
 */
export interface PublishReleaseOptions {
  release: string;
  channel: string;
  expect: string[];
  timeoutMs: number;
  dryRun: boolean;
  deploy: boolean;
  config: OrchestratorConfig;
  stateDir: string;
  logger: Logger;
  now: Date;
  signal?: AbortSignal;
}

export interface PublishReleaseResult {
  published: PublishResult;
  deployed: DeployTreeResult | undefined;
  targets: string[];
}

/** A scratch copy of a repository root: trees hard-linked (never modified in place), state copied. */
function scratchCopy(root: string): string {
  mkdirSync(dirname(root), { recursive: true });
  const scratch = mkdtempSync(join(dirname(root), '.dry-run-'));
  if (!existsSync(root)) return scratch;
  for (const entry of readdirSync(root)) {
    if (entry === 'trees') execFileSync('cp', ['-al', join(root, entry), scratch]);
    else cpSync(join(root, entry), join(scratch, entry), { recursive: true, verbatimSymlinks: true });
  }
  return scratch;
}

export async function publishRelease(o: PublishReleaseOptions): Promise<PublishReleaseResult> {
  const settings = repoSettings(o.config);
  if (!settings.suites.includes(o.channel)) throw new UsageError(`--channel ${o.channel} is not a configured suite (repoSuites: ${settings.suites.join(', ')})`);
  if (!o.config.repoKey) throw new UsageError('no signing key configured', 'set repoKey in the orchestrator config (or $PKGFLEET_SIGNING_KEY) to the file made by `keys generate`');
  const signer = await signerFromFiles(o.config.repoKey, o.config.repoPassphraseFile);
  const paths = orchestratorPaths(o.stateDir);
  const incoming = new IncomingStore(paths.incoming);
  const manifests = await waitForArtifacts(incoming, o.release, o.expect, { timeoutMs: o.timeoutMs, logger: o.logger, ...(o.signal ? { signal: o.signal } : {}) });
  if (manifests.length === 0) throw new UsageError(`release ${o.release}: nothing has arrived and no target is expected`, 'pass --expect T,... or push artifacts first');
  const dirs = manifests.map((m) => incoming.dirFor(m.release, m.target));
  const realRoot = resolve(o.config.repoRoot ?? paths.repo);
  const root = o.dryRun ? scratchCopy(realRoot) : realRoot;
  try {
    // Incoming files land by rename and are never changed in place: the pool may hard-link them.
    const published = await publish({ root, channel: o.channel, paths: dirs, signer, settings, now: o.now, logger: o.logger, keepTrees: o.config.repoKeepTrees, linkInputs: true, ...(o.signal ? { signal: o.signal } : {}) });
    for (const f of published.formats) {
      o.logger.info(`${o.dryRun ? 'would publish' : 'published'} ${f.format}`, { channel: o.channel, packages: f.packages, added: f.added.length, removed: f.removed.length });
    }
    let deployed: DeployTreeResult | undefined;
    if (o.deploy) {
      deployed = await deployTree(root, { credentialPath: o.config.deployCredential, activate: !o.dryRun, logger: o.logger, ...(o.signal ? { signal: o.signal } : {}) });
    }
    return { published, deployed, targets: manifests.map((m) => m.target) };
  } finally {
    if (o.dryRun) rmSync(root, { recursive: true, force: true });
  }
}
