import { readFile } from 'node:fs/promises';
import { ConfigError, defineSchema, loadAgentConfig, readPublicKey, type CommandContext, type ConfigOf, type Logger } from '@pkgfleet/shared';
import type { TrustedKey } from './deploy/signatures';
import { DirStore } from './store/dir-store';

/** The repo-agent's config file (`/etc/pkgfleet/repo-agent.json`, written by `init`). */
export const repoAgentSchema = defineSchema({
  stateDir: { type: 'string', env: 'PKGFLEET_STATE_DIR', describe: 'state directory: snapshots/, manifests/ and the current symlink (the web root)' },
  trustKey: { type: 'string', env: 'PKGFLEET_TRUST_KEY', describe: 'OpenPGP public key file (armored or binary) whose signatures a snapshot must carry' },
  listen: { type: 'string', env: 'PKGFLEET_LISTEN', default: '0.0.0.0:7444', describe: 'address the deploy service listens on (HOST:PORT)' },
  publicUrl: { type: 'string', env: 'PKGFLEET_PUBLIC_URL', describe: 'wss:// URL the orchestrator uses to reach the deploy service (default: from listen)' },
  http: { type: 'string', env: 'PKGFLEET_HTTP', describe: 'address to serve the live snapshot on over HTTP (HOST:PORT); unset when nginx serves it' },
  keep: { type: 'number', default: 5, describe: 'snapshots gc keeps (the live one is always kept)' },
  gracePeriod: { type: 'duration', default: 3_600_000, describe: 'how long by-hash and hash-named repodata files of a replaced snapshot stay reachable' },
  lockTimeout: { type: 'duration', default: 600_000, describe: 'how long an operation waits for another one holding the store lock' },
  maxFileSize: { type: 'number', default: 16 * 1024 ** 3, describe: 'largest file a snapshot may hold, in bytes' },
  maxFiles: { type: 'number', default: 1_000_000, describe: 'most files a snapshot may hold' },
});

export type RepoAgentConfig = ConfigOf<typeof repoAgentSchema>;

export interface RepoAgentSetup {
  config: RepoAgentConfig;
  stateDir: string;
  configFile: string;
  store: DirStore;
}

/** Config, state dir and store for a command (flag > env > file > default). */
export function loadRepoAgent(ctx: CommandContext, flags: Record<string, unknown> = {}): RepoAgentSetup {
  const { config, stateDir, configFile } = loadAgentConfig(ctx, repoAgentSchema, flags);
  return { config, stateDir, configFile, store: new DirStore(stateDir, ctx.logger) };
}

/** The trusted public key named by the config; commands that check signatures need one. */
export async function loadTrustedKey(config: RepoAgentConfig, logger?: Logger): Promise<TrustedKey> {
  if (!config.trustKey) {
    throw new ConfigError('E_CONFIG_TRUST_KEY', 'no trusted public key is configured ("trustKey")', 'run `repo-agent init --trust-key FILE` with the public key the orchestrator signs with');
  }
  let data: Buffer;
  try {
    data = await readFile(config.trustKey);
  } catch (err) {
    throw new ConfigError('E_CONFIG_TRUST_KEY', `trusted public key ${config.trustKey}: ${(err as Error).message}`, 'check "trustKey" in the config or re-run `repo-agent init --trust-key FILE`', { cause: err });
  }
  const key = await readPublicKey(data.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP') ? data.toString('utf8') : new Uint8Array(data), config.trustKey);
  logger?.debug('trusted key loaded', { file: config.trustKey, fingerprint: key.getFingerprint().toUpperCase() });
  return key;
}

