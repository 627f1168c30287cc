import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { coerce, type ConfigOf, type Schema } from './schema';

export interface LoadOptions {
  /** Path given with --config; else $PKGFLEET_CONFIG; else `defaultPath`. */
  path?: string | undefined;
  defaultPath: string;
  /** Values given as flags (undefined = not given). */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export interface Loaded<S extends Schema> {
  config: ConfigOf<S>;
  /** The file that was read, if any. */
  file: string | undefined;
}

/**
 * Resolve every setting of `schema`: flag > environment > file > default. A missing default
 * config file is fine (everything may come from flags); a named one that is missing is not.
 */
export function loadConfig<S extends Schema>(schema: S, opts: LoadOptions): Loaded<S> {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? env.PKGFLEET_CONFIG;
  const path = explicit ?? opts.defaultPath;
  let fileValues: Record<string, unknown> = {};
  let file: string | undefined;
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
    file = path;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit) {
      throw new ConfigError(
        'E_CONFIG_READ',
        `config file ${path}: ${code === 'ENOENT' ? 'does not exist' : (err as Error).message}`,
        explicit ? 'check --config / PKGFLEET_CONFIG, or run the agent\'s init command' : undefined,
        { cause: err },
      );
    }
  }
  if (text !== undefined) {
    try {
      fileValues = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError('E_CONFIG_PARSE', `config file ${path}: not valid JSON (${(err as Error).message})`, 'fix the file or re-run init', { cause: err });
    }
    if (!fileValues || typeof fileValues !== 'object' || Array.isArray(fileValues)) {
      throw new ConfigError('E_CONFIG_PARSE', `config file ${path}: must hold a JSON object`);
    }
    for (const key of Object.keys(fileValues)) {
      if (!(key in schema) && key !== '$schema' && key !== 'comment') {
        throw new ConfigError('E_CONFIG_UNKNOWN', `config file ${path}: unknown setting "${key}"`, `known settings: ${Object.keys(schema).join(', ')}`);
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const flag = opts.flags?.[key];
    if (flag !== undefined) out[key] = coerce(key, field, flag, `--${kebab(key)}`);
    else if (field.env && env[field.env] !== undefined && env[field.env] !== '') out[key] = coerce(key, field, env[field.env], `$${field.env}`);
    else if (fileValues[key] !== undefined) out[key] = coerce(key, field, fileValues[key], `config file ${path}`);
    else out[key] = field.default;
  }
  return { config: out as ConfigOf<S>, file };
}

export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
