/** The real `twine upload`, one file per run so that each file gets its own outcome and retries. */
import type { Logger } from '@pkgfleet/shared';
import { runTool, type ToolResult } from './run-tool';

export interface TwineOptions {
  twine: string;
  repositoryUrl: string;
  /** Used as TWINE_PASSWORD; user `__token__` unless $TWINE_USERNAME says otherwise. */
  token: string;
  secrets: readonly string[];
  logger: Logger;
  signal?: AbortSignal;
}

/** twine's environment: the token and nothing that could redirect the upload. */
export function twineEnv(token: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!/^(TWINE_|PYPI_TOKEN$)/.test(k)) env[k] = v;
  return {
    ...env,
    TWINE_USERNAME: base.TWINE_USERNAME || '__token__',
    TWINE_PASSWORD: token,
    // rich wraps at 80 columns when not on a terminal; a wrapped token would escape masking.
    COLUMNS: '10000',
    NO_COLOR: '1',
  };
}

export function twineUpload(file: string, o: TwineOptions): Promise<ToolResult> {
  const args = ['--no-color', 'upload', '--non-interactive', '--disable-progress-bar', '--verbose', '--repository-url', o.repositoryUrl, file];
  return runTool(o.twine, args, { env: twineEnv(o.token), secrets: o.secrets, logger: o.logger, signal: o.signal });
}
