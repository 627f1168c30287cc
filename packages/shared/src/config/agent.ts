import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../fs/atomic';
import { ConfigError, UsageError } from '../errors';
import { DEFAULT_STATE_DIRS, type CommandContext } from '../cli/program';
import { loadConfig, type Loaded } from './load';
import type { Schema } from './schema';

/**
 * Where an agent's config file is: --config, else $PKGFLEET_CONFIG, else <state-dir>/<agent>.json
 * when --state-dir is given (so tests and demos stay inside their temp dir), else
 * /etc/pkgfleet/<agent>.json.
 */
export function configPathFor(ctx: CommandContext): { path: string; explicit: boolean } {
  if (ctx.configPath) return { path: ctx.configPath, explicit: true };
  if (ctx.stateDirFlag) return { path: join(ctx.stateDirFlag, `${ctx.agent}.json`), explicit: false };
  return { path: ctx.defaultConfigPath, explicit: false };
}

/** Load the agent's config (flag > env > file > default) and resolve its state dir the same way. */
export function loadAgentConfig<S extends Schema>(ctx: CommandContext, schema: S, flags: Record<string, unknown> = {}): Loaded<S> & { stateDir: string; configFile: string } {
  const { path, explicit } = configPathFor(ctx);
  const loaded = loadConfig(schema, { path: explicit ? path : undefined, defaultPath: path, flags: { ...flags, stateDir: ctx.stateDirFlag } });
  const fromConfig = (loaded.config as Record<string, unknown>).stateDir;
  const stateDir = typeof fromConfig === 'string' ? fromConfig : (process.env.PKGFLEET_STATE_DIR || DEFAULT_STATE_DIRS[ctx.agent]);
  return { ...loaded, stateDir: resolve(stateDir), configFile: path };
}

/** Parse `HOST:PORT`, `[v6]:PORT` or `:PORT`. */
export function parseListen(text: string, what = '--listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${what} ${JSON.stringify(text)} is not HOST:PORT`, 'write it like 127.0.0.1:7443 or 0.0.0.0:7443');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** `host:port` as a URL authority (brackets for IPv6). */
export function authority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Merge `values` into the config file (keeping settings already there) and write it atomically.
 * Every agent's `init` writes its config this way (re-running init keeps what it was not told).
 */
export async function writeAgentConfig(configFile: string, values: Record<string, unknown>): Promise<Record<string, unknown>> {
  let existing: Record<string, unknown> = {};
  if (existsSync(configFile)) {
    try {
      existing = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError('E_CONFIG_PARSE', `config file ${configFile}: not valid JSON (${(err as Error).message})`, 'fix or remove the file and re-run init', { cause: err });
    }
  }
  const next = { ...existing };
  for (const [k, v] of Object.entries(values)) if (v !== undefined) next[k] = v;
  await writeFileAtomic(configFile, JSON.stringify(next, null, 2) + '\n', { mode: 0o640 });
  return next;
}
