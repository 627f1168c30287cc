import { readFileSync } from 'node:fs';
import { ConfigError, UsageError, maskSecrets, type CommandContext, type LogFields, type Logger } from '@pkgfleet/shared';
import { DigitalOceanProvider } from '../providers/digitalocean';
import { PROVIDER_NAMES, type Machine, type Provider, type ProviderName } from '../providers/provider';
import type { SshAccess } from './create';
import type { MachinesConfig } from './settings';
import { renderUserData, type UserDataInput } from './user-data';

/** A provider that another part of the orchestrator supplies (the `local` provider). */
export type ProviderFactory = (ctx: CommandContext, config: MachinesConfig) => Provider;

function readSecretFile(path: string, what: string): string {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (!text) throw new Error('the file is empty');
    return text;
  } catch (err) {
    throw new ConfigError('E_SECRET_READ', `${what} file ${path}: ${(err as Error).message}`, `put the ${what} in ${path} (mode 0600)`, { cause: err });
  }
}

/** The DigitalOcean token: $DIGITALOCEAN_TOKEN, else the file named by digitaloceanTokenFile. */
export function digitaloceanToken(config: MachinesConfig, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DIGITALOCEAN_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  if (config.digitaloceanTokenFile) return readSecretFile(config.digitaloceanTokenFile, 'DigitalOcean token');
  throw new ConfigError('E_DO_NO_TOKEN', 'no DigitalOcean API token', 'set DIGITALOCEAN_TOKEN, or digitaloceanTokenFile in the config (a file holding the token)');
}

/** What the user-data of a machine holds besides its credential, from the config. */
export function userDataSettings(config: MachinesConfig): Omit<UserDataInput, 'release' | 'target' | 'credential'> {
  const out: Omit<UserDataInput, 'release' | 'target' | 'credential'> = { buildAgentConfig: config.buildAgentConfig };
  if (config.buildAgentUrl) {
    const sums = config.buildAgentSha256 as Record<string, unknown>;
    if (!Object.values(sums).some((v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))) {
      throw new ConfigError('E_CONFIG_VALUE', 'buildAgentUrl is set but buildAgentSha256 holds no SHA-256', 'set buildAgentSha256 to {"x64": "<sha256 of build-agent-linux-x64.xz>", "arm64": "…"}');
    }
    out.executable = { url: config.buildAgentUrl, sha256: Object.fromEntries(Object.entries(sums).filter(([, v]) => typeof v === 'string')) as Record<string, string> };
  }
  if (config.gitlabUrl && config.gitlabRunnerTokenFile) {
    out.gitlab = { url: config.gitlabUrl, token: readSecretFile(config.gitlabRunnerTokenFile, 'GitLab runner token'), tags: config.gitlabRunnerTags, executor: config.gitlabRunnerExecutor };
  }
  return out;
}

export function makeProvider(name: string, ctx: CommandContext, config: MachinesConfig, extra: Partial<Record<ProviderName, ProviderFactory>> = {}): Provider {
  if (!(PROVIDER_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown provider ${JSON.stringify(name)}`, `use one of: ${PROVIDER_NAMES.join(', ')}`);
  const factory = extra[name as ProviderName];
  if (factory) return factory(ctx, config);
  if (name === 'local') throw new UsageError('provider local is not available in this build yet', 'use --provider digitalocean');
  const token = digitaloceanToken(config);
  const ud = userDataSettings(config);
  const overrides = config.dropletTargets as Record<string, Partial<{ region: string; size: string; image: string }>>;
  return new DigitalOceanProvider({
    token,
    baseUrl: config.digitaloceanApiUrl,
    // The token must never reach a log line, whatever a future message interpolates.
    logger: maskedLogger(ctx.logger, [token]),
    retries: config.digitaloceanRetries,
    pollIntervalMs: config.machinesPollInterval,
    droplet: { region: config.dropletRegion, size: config.dropletSize, image: config.dropletImage, sshKeys: config.dropletSshKeys, vpcUuid: config.dropletVpcUuid, monitoring: config.dropletMonitoring },
    dropletFor: (target) => overrides[target] ?? {},
    userData: (release, target, b) => renderUserData({ release, target, credential: b.credential, ...ud }),
  });
}

/** SSH to machines on their private address with machinesSshKeyFile, when configured. */
export function sshAccess(config: MachinesConfig, executable: string | undefined): SshAccess | undefined {
  if (!config.machinesSshKeyFile) return undefined;
  const privateKey = readFileSync(config.machinesSshKeyFile);
  return {
    targetFor: (m: Machine) => (m.privateAddress ? { host: m.privateAddress, port: config.machinesSshPort, username: config.machinesSshUser, privateKey } : undefined),
    executable,
  };
}

/** `logger` with `secrets` replaced by *** in every message and field. */
export function maskedLogger(logger: Logger, secrets: string[]): Logger {
  const fields = (f?: LogFields): LogFields | undefined => (f === undefined ? undefined : (JSON.parse(maskSecrets(JSON.stringify(f, (_k, v: unknown) => (v instanceof Error ? v.message : v)), secrets)) as LogFields));
  const wrap =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, f?: LogFields): void =>
      logger[level](maskSecrets(msg, secrets), fields(f));
  return { format: logger.format, debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error'), child: (f) => maskedLogger(logger.child(fields(f) ?? {}), secrets) };
}
