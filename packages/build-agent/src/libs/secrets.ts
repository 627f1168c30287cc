/**
 * Registry tokens: read from a file or the environment (never argv), and every form in which one
 * could show up in output (as is, or inside an HTTP basic-auth header) collected for masking.
 */
import { readFile, stat } from 'node:fs/promises';
import { AuthError, maskSecrets, PkgfleetError, type Logger } from '@pkgfleet/shared';

export interface Token {
  value: string;
  /** Where it came from, for messages: `--token-file /run/secrets/x`, `$CARGO_REGISTRY_TOKEN`. */
  source: string;
}

export interface TokenSources {
  /** --token-file (wins over the environment). */
  flagFile?: string | undefined;
  /** Environment variables, in order of preference. */
  envNames: readonly string[];
  /** Token file from the config file (after the environment). */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

async function readTokenFile(path: string, source: string, logger?: Logger): Promise<Token> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AuthError('E_TOKEN_FILE', `token file ${path} (${source}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'check the path; the file holds the token alone', { cause: err });
  }
  const value = text.trim();
  if (!value) throw new AuthError('E_TOKEN_FILE', `token file ${path} (${source}) is empty`, 'write the registry token into it');
  const mode = (await stat(path)).mode;
  if (mode & 0o077) logger?.warn(`token file ${path} is readable by other users`, { mode: (mode & 0o777).toString(8), hint: 'chmod 600 it' });
  return { value, source: `${source} ${path}` };
}

/** flag file > environment > config file; undefined when none is set. */
export async function resolveToken(s: TokenSources): Promise<Token | undefined> {
  const env = s.env ?? process.env;
  if (s.flagFile) return readTokenFile(s.flagFile, '--token-file', s.logger);
  for (const name of s.envNames) {
    const v = env[name]?.trim();
    if (v) return { value: v, source: `$${name}` };
  }
  if (s.configFile) return readTokenFile(s.configFile, 'config tokenFile', s.logger);
  return undefined;
}

/** The token and the forms it takes on the wire (basic auth for `__token__`, URL-encoded). */
export function secretForms(token: string, basicAuthUser?: string): string[] {
  const forms = [token, encodeURIComponent(token)];
  if (basicAuthUser !== undefined) forms.push(Buffer.from(`${basicAuthUser}:${token}`).toString('base64'));
  return [...new Set(forms)];
}

/**
 * Mask every secret in an error's message, hint and stack, down its cause chain, in place (so it
 * keeps its class and code): runMain prints the message, and PKGFLEET_DEBUG prints the stack.
 */
export function maskError<E>(err: E, secrets: readonly string[], depth = 0): E {
  if (!(err instanceof Error) || secrets.length === 0 || depth > 8) return err;
  const writable = err as unknown as { message: string; stack?: string; hint?: string };
  writable.message = maskSecrets(err.message, secrets);
  if (err.stack) writable.stack = maskSecrets(err.stack, secrets);
  if (err instanceof PkgfleetError && err.hint) writable.hint = maskSecrets(err.hint, secrets);
  if (err.cause !== undefined) maskError(err.cause, secrets, depth + 1);
  return err;
}
