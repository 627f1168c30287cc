import { defineSchema, loadAgentConfig, type CommandContext, type ConfigOf } from '@pkgfleet/shared';
import { libsConfigFields } from './libs/config';

/** The build agent's config (`/etc/pkgfleet/build-agent.json`, written by cloud-init). */
export const buildAgentSchema = defineSchema({
  stateDir: { type: 'string', env: 'PKGFLEET_STATE_DIR', describe: 'state directory' },
  credential: { type: 'string', env: 'PKGFLEET_CREDENTIAL', default: '/etc/pkgfleet/build-agent.credential', describe: 'credential file issued by the orchestrator for this machine and release' },
  release: { type: 'string', env: 'PKGFLEET_RELEASE', describe: 'release this machine builds (default for --release)' },
  target: { type: 'string', env: 'PKGFLEET_TARGET', describe: 'target this machine builds, e.g. amd64-deb (default for --target)' },
  retries: { type: 'number', default: 8, describe: 'attempts of a push before giving up' },
  connectTimeout: { type: 'duration', default: 15_000, describe: 'deadline to connect and authenticate' },
  bwLimit: { type: 'number', default: 0, describe: 'bandwidth limit of pushes in bytes per second (0 = none)' },
  replyTimeout: { type: 'duration', default: 120_000, describe: 'deadline for each answer of the orchestrator' },
  ...libsConfigFields,
});

export type BuildAgentConfig = ConfigOf<typeof buildAgentSchema>;

export function loadBuildAgentConfig(ctx: CommandContext, flags: Record<string, unknown> = {}) {
  return loadAgentConfig(ctx, buildAgentSchema, flags);
}
