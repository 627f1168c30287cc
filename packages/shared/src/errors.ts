/**
 * One error type for the whole codebase. `code` is stable (tests and scripts match on it),
 * `message` names the thing (file, peer, release) and `hint` says what to do about it.
 */
export type ErrorCode = `E_${string}`;

export class PkgfleetError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
  }
}

/** Bad command-line usage: exit status 2. */
export class UsageError extends PkgfleetError {
  constructor(message: string, hint?: string) {
    super('E_USAGE', message, hint);
  }
}

export class ConfigError extends PkgfleetError {}
export class ProtocolError extends PkgfleetError {}
export class TransferError extends PkgfleetError {}
export class AuthError extends PkgfleetError {}
export class FormatError extends PkgfleetError {}
export class TimeoutError extends PkgfleetError {}

/** The one map from an error to a process exit status (see CLI.md). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  return 1;
}

/** One line for stderr: `error: <message>` plus the hint, never the stack. */
export function describeError(err: unknown): string {
  if (err instanceof PkgfleetError) {
    return err.hint ? `error: ${err.message}\nhint: ${err.hint}` : `error: ${err.message}`;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return `error: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
  }
  return `error: ${String(err)}`;
}
