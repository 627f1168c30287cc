import { contextFor, UsageError, isValidRelease, isValidTarget, type Command } from '@pkgfleet/shared';

interface PushFlags {
  release?: string;
  target?: string;
  credential?: string;
  replace?: boolean;
  bwlimit?: string;
}

/** `500k`, `4M`, `1G` or plain bytes per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`--bwlimit ${JSON.stringify(text)} is not a rate`, 'write bytes per second like 500k, 4M or 1G');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Math.round(Number(m[1]) * mult);
}

export function register(program: Command): void {
  program
    .command('push')
    .description('stream packages to the orchestrator: only what it lacks, resumable, idempotent')
    .option('--release <release>', 'release the files belong to (e.g. v1.2.3)')
    .option('--target <target>', 'build target (e.g. amd64-deb)')
    .option('--credential <file>', 'credential file (default from config / $PKGFLEET_CREDENTIAL)')
    .option('--replace', 'overwrite files that already landed with different content')
    .option('--bwlimit <rate>', 'limit bandwidth, bytes per second (suffixes k, M, G), like rsync --bwlimit')
    .argument('<files...>', 'files to push')
    .action(async (files: string[], opts: PushFlags, cmd: Command) => {
      const ctx = contextFor(cmd, 'build-agent');
      // Loaded when the command runs, not at start-up (see orchestrator-agent's cli.ts).
      const [{ loadBuildAgentConfig }, { orchestratorConnector }, { describeLocalFiles, pushWithRetry, summarizePush }] = await Promise.all([
        import('../config'), import('../connect'), import('@pkgfleet/shared/transfer/sender'),
      ]);
      const { config } = loadBuildAgentConfig(ctx, { credential: opts.credential, release: opts.release, target: opts.target, bwLimit: opts.bwlimit === undefined ? undefined : parseRate(opts.bwlimit) });
      const release = config.release;
      const target = config.target;
      if (!release) throw new UsageError('no release given', 'pass --release vX.Y.Z (or set release in the config / $PKGFLEET_RELEASE)');
      if (!target) throw new UsageError('no target given', 'pass --target e.g. amd64-deb (or set target in the config / $PKGFLEET_TARGET)');
      if (!isValidRelease(release)) throw new UsageError(`--release ${JSON.stringify(release)} is not a release name`);
      if (!isValidTarget(target)) throw new UsageError(`--target ${JSON.stringify(target)} is not a target name`);
      const { credential, connect } = orchestratorConnector(ctx, config, config.credential);
      if (credential.role !== 'build' || credential.release !== release || credential.target !== target) {
        throw new UsageError(`credential ${credential.id} is for ${credential.role === 'build' ? `release ${credential.release} target ${credential.target}` : 'deploying'}, not release ${release} target ${target}`, 'use the credential issued for this machine and release');
      }
      const local = await describeLocalFiles(files);
      const req = { release, target, files: local, replace: Boolean(opts.replace) };
      ctx.logger.info('pushing', { release, target, files: local.length, orchestrator: credential.url });
      const result = await pushWithRetry(connect, req, {
        logger: ctx.logger,
        tty: process.stderr.isTTY ? process.stderr : undefined,
        maxAttempts: config.retries,
        replyTimeoutMs: config.replyTimeout,
        signal: ctx.signal,
        bwLimit: config.bwLimit,
      });
      ctx.stdout(summarizePush(req, result));
    });
}
