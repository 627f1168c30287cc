/**
 * Runs cargo, twine and git as child processes: no shell, secrets only in the child's
 * environment, and every line the child prints relayed through the logger with secrets masked
 * (a registry that echoes the token in an error must not put it into the CI log).
 */
import { spawn } from 'node:child_process';
import { maskSecrets, PkgfleetError, type Logger } from '@pkgfleet/shared';

export interface RunToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  secrets: readonly string[];
  logger: Logger;
  /** Level the child's lines are logged at (default info). */
  relay?: 'info' | 'debug';
  /** Keep stdout apart (not relayed) and return it, e.g. for `cargo metadata`. */
  captureStdout?: boolean;
  signal?: AbortSignal;
}

export interface ToolResult {
  code: number;
  /** Relayed lines (masked), stdout and stderr interleaved, at most the last 256 KiB. */
  output: string;
  /** Set with captureStdout. */
  stdout: string;
}

const KEEP = 256 * 1024;

export function runTool(cmd: string, args: readonly string[], opts: RunToolOptions): Promise<ToolResult> {
  const tool = cmd.split('/').pop()!;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal });
    let output = '';
    const stdoutChunks: Buffer[] = [];
    const relay = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      const emit = (line: string) => {
        // rich (twine) pads lines to the terminal width and cargo uses \r for progress: trim both.
        const clean = maskSecrets(line.replace(/\r/g, '').trimEnd(), opts.secrets);
        if (!clean) return;
        output = (output + clean + '\n').slice(-KEEP);
        opts.logger[opts.relay ?? 'info'](clean, { tool });
      };
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        lines.forEach(emit);
      });
      stream.on('end', () => {
        if (partial) emit(partial);
        partial = '';
      });
    };
    if (opts.captureStdout) child.stdout.on('data', (c: Buffer) => stdoutChunks.push(c));
    else relay(child.stdout);
    relay(child.stderr);
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new PkgfleetError('E_TOOL_MISSING', `${cmd}: not found`, `install ${tool} or set its path in the config`, { cause: err }));
      } else reject(err);
    });
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), output, stdout: Buffer.concat(stdoutChunks).toString('utf8') });
    });
  });
}

/** The last `n` non-empty lines of a tool's output, for an error message. */
export function tail(output: string, n = 3): string {
  return output
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter(Boolean)
    .slice(-n)
    .join(' / ');
}
