/**
 * Structured logging to stderr: aligned text on a terminal, one JSON object per line otherwise
 * (CI logs, journald). stdout stays free for command output (`listening on …`, `--json`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  readonly format: LogFormat;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  format?: LogFormat;
  level?: LogLevel;
  /** Where lines go; defaults to process.stderr. */
  write?: (line: string) => void;
  /** Strings that must never appear in a line (tokens); replaced by `***`. */
  secrets?: string[];
  now?: () => Date;
  fields?: LogFields;
}

export function defaultLogFormat(stream: { isTTY?: boolean } = process.stderr): LogFormat {
  return stream.isTTY ? 'text' : 'json';
}

export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

function textValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? defaultLogFormat();
  const min = ORDER[opts.level ?? (process.env.PKGFLEET_DEBUG ? 'debug' : 'info')];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const secrets = opts.secrets ?? [];
  const now = opts.now ?? (() => new Date());
  const base = opts.fields ?? {};

  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const all = { ...base, ...fields };
    let line: string;
    if (format === 'json') {
      line = JSON.stringify({ time: now().toISOString(), level, msg, ...all }, (_k, v) =>
        v instanceof Error ? v.message : typeof v === 'bigint' ? v.toString() : v,
      );
    } else {
      const kv = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(' ');
      line = `${level === 'info' ? '' : level + ': '}${msg}${kv ? '  ' + kv : ''}`;
    }
    write(maskSecrets(line, secrets));
  };
  return {
    format,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, format, fields: { ...base, ...fields } }),
  };
}

/** A logger that keeps lines in memory, for tests. */
export function memoryLogger(format: LogFormat = 'json'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ format, level: 'debug', write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
