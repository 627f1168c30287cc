import { defineSchema, type ConfigOf } from '@pkgfleet/shared';

/**
 * Build machine settings of the orchestrator config (`/etc/pkgfleet/orchestrator-agent.json`).
 * Flat keys with the `machines`, `digitalocean`, `droplet`, `buildAgent` and `gitlab` prefixes so
 * that the orchestrator's schema can spread them in. Secrets are never settings: the API token
 * comes from $DIGITALOCEAN_TOKEN or the file named by digitaloceanTokenFile, the GitLab runner
 * token from the file named by gitlabRunnerTokenFile.
 */
export const machinesSchema = defineSchema({
  machinesProvider: { type: 'string', env: 'PKGFLEET_PROVIDER', default: 'local', describe: 'where build machines come from: digitalocean or local' },
  machinesReadyTimeout: { type: 'duration', default: 600_000, describe: 'how long `machines create` waits for the machines to be up (droplets active)' },
  machinesRegisterTimeout: { type: 'duration', default: 900_000, describe: 'how long `machines create --wait` waits for every build-agent to register' },
  machinesPollInterval: { type: 'duration', default: 5000, describe: 'how often machine state is polled' },
  machinesSshKeyFile: { type: 'string', describe: 'private key (OpenSSH or PEM) the orchestrator uses to reach build machines by SSH for bootstrap and diagnostics' },
  machinesSshUser: { type: 'string', default: 'root', describe: 'SSH user on build machines' },
  machinesSshPort: { type: 'number', default: 22, describe: 'SSH port on build machines' },

  digitaloceanApiUrl: { type: 'string', env: 'DIGITALOCEAN_API_URL', default: 'https://api.digitalocean.com', describe: 'DigitalOcean API base URL' },
  digitaloceanTokenFile: { type: 'string', env: 'DIGITALOCEAN_TOKEN_FILE', describe: 'file holding the DigitalOcean API token (else $DIGITALOCEAN_TOKEN)' },
  digitaloceanRetries: { type: 'number', default: 6, describe: 'retries of an API request after 429 or 5xx' },

  dropletRegion: { type: 'string', default: 'fra1', describe: 'region slug of build droplets' },
  dropletSize: { type: 'string', default: 's-4vcpu-8gb', describe: 'size slug of build droplets' },
  dropletImage: { type: 'string', default: 'debian-12-x64', describe: 'image slug or id of build droplets' },
  dropletSshKeys: { type: 'strings', default: [], describe: 'SSH key ids or fingerprints (of the account) put on build droplets' },
  dropletVpcUuid: { type: 'string', describe: 'VPC the build droplets join (the private network of the orchestrator)' },
  dropletMonitoring: { type: 'boolean', default: true, describe: 'install the DigitalOcean monitoring agent' },
  dropletTargets: { type: 'object', default: {}, describe: 'per-target overrides, e.g. {"amd64-rpm": {"image": "rockylinux-9-x64", "size": "s-8vcpu-16gb"}}' },

  buildAgentUrl: { type: 'string', describe: 'download URL of build-agent-linux-{arch}.xz for new machines ({arch}: x64 or arm64); unset = uploaded by SSH bootstrap' },
  buildAgentSha256: { type: 'object', default: {}, describe: 'SHA-256 of each downloaded .xz by arch, e.g. {"x64": "…", "arm64": "…"} (required with buildAgentUrl)' },
  buildAgentConfig: { type: 'object', default: {}, describe: 'extra settings written into the build machines\' /etc/pkgfleet/build-agent.json' },

  gitlabUrl: { type: 'string', describe: 'GitLab URL; when set with gitlabRunnerTokenFile, each build machine registers a GitLab runner' },
  gitlabRunnerTokenFile: { type: 'string', describe: 'file holding the runner authentication token (glrt-…) or legacy registration token' },
  gitlabRunnerTags: { type: 'strings', default: ['pkgfleet-{target}'], describe: 'runner tags ({target} and {release} are replaced); only used with a legacy registration token, a glrt- runner has its tags in GitLab' },
  gitlabRunnerExecutor: { type: 'string', default: 'shell', describe: 'gitlab-runner executor' },
});

export type MachinesConfig = ConfigOf<typeof machinesSchema>;
