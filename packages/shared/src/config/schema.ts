import { ConfigError } from '../errors';
import { parseDuration } from '../duration';

/**
 * A config schema: each setting has a type, an optional environment variable, a default and a
 * description. `loadConfig` resolves flag > environment > file > default and names the source
 * of any bad value.
 */
export type FieldType = 'string' | 'number' | 'boolean' | 'duration' | 'strings' | 'object';

export interface Field {
  type: FieldType;
  env?: string;
  default?: unknown;
  describe: string;
}

export type Schema = Record<string, Field>;

type ValueOf<F extends Field> = F['type'] extends 'string'
  ? string
  : F['type'] extends 'number' | 'duration'
    ? number
    : F['type'] extends 'boolean'
      ? boolean
      : F['type'] extends 'strings'
        ? string[]
        : Record<string, unknown>;

export type ConfigOf<S extends Schema> = {
  [K in keyof S]: S[K] extends { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

export function defineSchema<S extends Schema>(s: S): S {
  return s;
}

/** Convert a raw value from `source` to the field's type, or throw naming the source. */
export function coerce(key: string, field: Field, raw: unknown, source: string): unknown {
  const bad = (expected: string) =>
    new ConfigError('E_CONFIG_VALUE', `${source}: "${key}" must be ${expected}, got ${JSON.stringify(raw)}`, field.describe);
  switch (field.type) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') throw bad('a non-empty string');
      return raw;
    case 'number': {
      const n = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw bad('a number');
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad('true or false');
    case 'duration':
      if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
      if (typeof raw === 'string') {
        try {
          return parseDuration(raw, key);
        } catch {
          throw bad('a duration like 90s, 30m or 6h');
        }
      }
      throw bad('a duration like 90s, 30m or 6h');
    case 'strings':
      if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw;
      throw bad('a list of strings');
    case 'object':
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) return raw;
      throw bad('an object');
  }
}
