import { loadAgentConfig, defineSchema, type CommandContext, type ConfigOf } from '@pkgfleet/shared';
import { repoSchema } from './publish/settings';
import { machinesSchema } from './machines/settings';

/**
 * The orchestrator's config file (`/etc/pkgfleet/orchestrator-agent.json`, written by `init`):
 * core settings here, repository and machine settings spread in from their modules.
 */
export const coreSchema = defineSchema({
  stateDir: { type: 'string', env: 'PKGFLEET_STATE_DIR', describe: 'state directory (incoming artifacts, trust store, repository)' },
  listen: { type: 'string', env: 'PKGFLEET_LISTEN', default: '0.0.0.0:7443', describe: 'address the artifact service listens on (HOST:PORT)' },
  publicUrl: { type: 'string', env: 'PKGFLEET_PUBLIC_URL', describe: 'wss:// URL build machines use to reach this orchestrator (default: from listen)' },
  maxFileSize: { type: 'number', default: 8 * 1024 ** 3, describe: 'largest file a push may hold, in bytes' },
  maxFiles: { type: 'number', default: 100_000, describe: 'most files one push may offer' },
  chunkSize: { type: 'number', default: 1024 * 1024, describe: 'binary frame size of file data, in bytes' },
  maxMessageBytes: { type: 'number', default: 16 * 1024 * 1024, describe: 'largest JSON control message accepted, in bytes' },
  deployCredential: { type: 'string', env: 'PKGFLEET_DEPLOY_CREDENTIAL', default: '/etc/pkgfleet/orchestrator-agent.deploy-credential', describe: 'deploy credential for the repo server (from `repo-agent credentials issue`)' },
  machinesCredentialTtl: { type: 'duration', default: 6 * 3_600_000, describe: 'lifetime of the credential each new build machine gets' },
  localBuildAgent: { type: 'string', env: 'PKGFLEET_LOCAL_BUILD_AGENT', describe: 'command that runs build-agent for provider local (default: the build-agent beside this executable)' },
  repoRoot: { type: 'string', env: 'PKGFLEET_REPO_ROOT', describe: 'repository root that publish writes (default <state>/repo)' },
  repoKey: { type: 'string', env: 'PKGFLEET_SIGNING_KEY', describe: 'armored private signing key file (mode 0600), from `keys generate`' },
  repoPassphraseFile: { type: 'string', env: 'PKGFLEET_KEY_PASSPHRASE_FILE', describe: 'file holding the signing key passphrase (or $PKGFLEET_KEY_PASSPHRASE)' },
  publishExpect: { type: 'strings', default: [], describe: 'targets publish waits for when --expect is not given' },
  publishTimeout: { type: 'duration', default: 1_800_000, describe: 'how long publish waits for the expected artifacts' },
  heartbeat: { type: 'duration', default: 10_000, describe: 'heartbeat interval; a peer silent for three is dropped' },
});

export const orchestratorSchema = defineSchema({ ...coreSchema, ...repoSchema, ...machinesSchema });
export type OrchestratorConfig = ConfigOf<typeof orchestratorSchema>;

export function loadOrchestratorConfig(ctx: CommandContext, flags: Record<string, unknown> = {}) {
  return loadAgentConfig(ctx, orchestratorSchema, flags);
}
