import { Command, CommanderError, Option } from 'commander';
import { describeError, exitCodeFor, UsageError } from '../errors';
import { createLogger, defaultLogFormat, type LogFormat, type Logger } from '../log/logger';
import { VERSION } from '../version';

export type AgentName = 'build-agent' | 'orchestrator-agent' | 'repo-agent';

export const DEFAULT_STATE_DIRS: Record<AgentName, string> = {
  'build-agent': '/var/lib/pkgfleet-build',
  'orchestrator-agent': '/var/lib/pkgfleet',
  'repo-agent': '/srv/pkgfleet',
};

export interface GlobalOptions {
  config?: string;
  logFormat?: LogFormat;
  stateDir?: string;
}

/** What every command handler gets: the agent's global options resolved once. */
export interface CommandContext {
  agent: AgentName;
  /** --config, else $PKGFLEET_CONFIG, else undefined (the agent's loader picks its default). */
  configPath: string | undefined;
  defaultConfigPath: string;
  /** --state-dir if given (the agent's config may also set it). */
  stateDirFlag: string | undefined;
  logFormat: LogFormat;
  logger: Logger;
  /** Aborted on SIGINT/SIGTERM so long operations can clean up. */
  signal: AbortSignal;
  stdout: (line: string) => void;
}

/** The root program with the global options every agent takes (CLI.md). */
export function createProgram(agent: AgentName, description: string): Command {
  const program = new Command(agent)
    .description(description)
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(new Option('--config <file>', `config file (default /etc/pkgfleet/${agent}.json, or $PKGFLEET_CONFIG)`))
    .addOption(new Option('--log-format <format>', 'text or json (default: text on a terminal, json otherwise)').choices(['text', 'json']))
    .addOption(new Option('--state-dir <dir>', `state directory (default ${DEFAULT_STATE_DIRS[agent]})`))
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
    .exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str) });
  return program;
}

const abort = new AbortController();
let signalsHooked = false;
function hookSignals(logger: Logger): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (abort.signal.aborted) process.exit(130);
      logger.warn(`received ${sig}, stopping`);
      abort.abort(new UsageError(`interrupted by ${sig}`));
    });
  }
}

/** Build the context for a subcommand from the root program's options. */
export function contextFor(cmd: Command, agent: AgentName): CommandContext {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  const logFormat = g.logFormat ?? defaultLogFormat();
  const logger = createLogger({ format: logFormat });
  hookSignals(logger);
  return {
    agent,
    configPath: g.config ?? process.env.PKGFLEET_CONFIG,
    defaultConfigPath: `/etc/pkgfleet/${agent}.json`,
    stateDirFlag: g.stateDir,
    logFormat,
    logger,
    signal: abort.signal,
    stdout: (line) => process.stdout.write(line + '\n'),
  };
}

/**
 * The only place that turns errors into exit codes: 0 success, 1 failure (one-line reason on
 * stderr), 2 bad usage.
 */
export async function runMain(program: Command, argv: string[] = process.argv): Promise<void> {
  let code = 0;
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      code = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    } else {
      process.stderr.write(describeError(err) + '\n');
      if (process.env.PKGFLEET_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
      code = exitCodeFor(err);
    }
  }
  // Let streams drain, then exit even if a socket or timer is still open.
  process.exitCode = code;
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
