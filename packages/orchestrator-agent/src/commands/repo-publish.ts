import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { contextFor, UsageError, type Command } from '@pkgfleet/shared';

/** The release date: $SOURCE_DATE_EPOCH (reproducible builds) if set, else now. */
function publishDate(env: NodeJS.ProcessEnv = process.env): Date {
  const s = env.SOURCE_DATE_EPOCH;
  if (s === undefined || s === '') return new Date();
  if (!/^\d+$/.test(s)) throw new UsageError(`$SOURCE_DATE_EPOCH "${s}" is not a number of seconds`);
  return new Date(Number(s) * 1000);
}

/**
 * How many .deb files the arguments name (the apt format hashes them on worker threads), counting
 * a folder's own entries, not its subfolders': enough to tell one or a few from many. Unreadable
 * arguments count nothing here; the publish reports them.
 */
function countDebs(paths: readonly string[]): number {
  let n = 0;
  for (const p of paths) {
    try {
      n += statSync(p).isDirectory() ? readdirSync(p).filter((e) => /\.deb$/i.test(e)).length : Number(/\.deb$/i.test(p));
    } catch {
      // reported by the publish
    }
  }
  return n;
}

type PublishOpts = { root: string; channel: string; key: string; passphraseFile?: string; link?: boolean; json?: boolean };

export function register(program: Command): void {
  const repo = program.commands.find((c) => c.name() === 'repo') ?? program.command('repo').description('the apt and yum repository tree');
  repo
    .command('publish')
    .description('add .deb/.rpm files (or folders of them) to the repository at DIR, write and sign its metadata, switch to it atomically')
    .requiredOption('--root <dir>', 'repository root (the served tree is DIR/current)')
    .requiredOption('--channel <channel>', 'apt suite / yum channel, one of repoSuites (stable, nightly)')
    .requiredOption('--key <file>', 'armored private signing key (mode 0600)')
    .option('--passphrase-file <file>', 'passphrase of the key (or $PKGFLEET_KEY_PASSPHRASE)')
    .option('--link', 'hard-link the package files into the pool instead of copying them: only for files that are never rewritten in place (they land by rename)')
    .option('--json', 'print the result as one JSON document')
    .argument('<path...>', 'package files or folders')
    .action(async (paths: string[], opts: PublishOpts, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      // Many new .debs are hashed on worker threads, which take a while to start: start them first,
      // while the config and the key load (a guess from the arguments: already published files
      // are not read again; workers not used are ended).
      const hash = await import('../publish/hash');
      const workers = hash.workersFor(countDebs(paths));
      if (workers) hash.prestartHashWorkers(workers);
      try {
        await publishCommand(paths, opts, ctx);
      } finally {
        await hash.releaseHashWorkers(); // those the publish did not take: nothing new to read, or it failed first
      }
    });
}

/** Load the config and key, publish, report: the command once its hashing workers are started. */
async function publishCommand(paths: string[], opts: PublishOpts, ctx: ReturnType<typeof contextFor>): Promise<void> {
  // The pipeline's modules are the bulk of what loads: start them first, the key is read and unlocked after.
  const pipeline = import('../publish/pipeline');
  const [{ loadOrchestratorConfig }, { repoSettings }, { signerFromFiles }] = await Promise.all([import('../config'), import('../publish/settings'), import('../publish/signing')]);
  const { config } = loadOrchestratorConfig(ctx);
  const settings = repoSettings(config);
  if (!settings.suites.includes(opts.channel)) {
    throw new UsageError(`--channel ${opts.channel} is not a configured suite (repoSuites: ${settings.suites.join(', ')})`);
  }
  const [signer, { publish }, { servedTreePath }] = await Promise.all([signerFromFiles(opts.key, opts.passphraseFile), pipeline, import('../publish/tree')]);
  const root = resolve(opts.root);
  const t0 = performance.now();
  const res = await publish({
    root, channel: opts.channel, paths, signer, settings, now: publishDate(), logger: ctx.logger, signal: ctx.signal,
    keepTrees: config.repoKeepTrees, linkInputs: opts.link === true, waitForCleanup: false,
  });
  const ms = Math.round(performance.now() - t0);
  if (opts.json) {
    ctx.stdout(JSON.stringify({ id: res.id, served: servedTreePath(root), tree: res.tree, ms, formats: res.formats }, null, 2));
    return;
  }
  for (const f of res.formats) {
    ctx.logger.info(`published ${f.format}`, { channel: opts.channel, packages: f.packages, added: f.added.length, removed: f.removed.length });
  }
  ctx.stdout(`published ${res.id} to ${servedTreePath(root)} in ${ms} ms`);
}
