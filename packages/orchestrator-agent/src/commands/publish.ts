import { contextFor, formatBytes, isValidRelease, parseDuration, UsageError, type Command, type CommandContext } from '@pkgfleet/shared';
import type { PublishReleaseResult } from '../release/publish-release';

export function describePublish(ctx: CommandContext, release: string, r: PublishReleaseResult, dryRun: boolean): void {
  for (const f of r.published.formats) {
    ctx.stdout(`${dryRun ? 'would publish' : 'published'} ${f.format}: ${f.packages} package(s), +${f.added.length} -${f.removed.length}${f.added.length ? ` (added: ${f.added.slice(0, 10).join(', ')}${f.added.length > 10 ? ', …' : ''})` : ''}`);
  }
  const d = r.deployed;
  if (d) {
    ctx.stdout(`${dryRun ? 'verified on the repo server, not activated' : 'deployed'}: snapshot ${d.done.id} (${d.done.filesReceived} file(s) sent, ${formatBytes(d.bytesSent)}; ${d.done.filesLinked} already there) to ${d.url}`);
  }
  ctx.stdout(`release ${release}: ${dryRun ? 'dry run complete, nothing changed' : 'published'} from ${r.targets.join(', ')}`);
}

export function register(program: Command): void {
  program
    .command('publish')
    .description("wait for a release's artifacts, add them to the apt and yum repositories, sign, deploy")
    .requiredOption('--release <release>', 'release, e.g. v1.2.3')
    .requiredOption('--channel <channel>', 'apt suite / yum channel (stable, nightly)')
    .option('--expect <targets>', 'targets that must have delivered (default: publishExpect in the config)')
    .option('--timeout <duration>', 'how long to wait for them (default: publishTimeout, 30m)')
    .option('--dry-run', 'do everything but make it live; print what would change')
    .option('--no-deploy', 'publish the repository tree without deploying it')
    .action(async (opts: { release: string; channel: string; expect?: string; timeout?: string; dryRun?: boolean; deploy: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { parseTargets }, { publishRelease }] = await Promise.all([import('../config'), import('../machines/create'), import('../release/publish-release')]);
      if (!isValidRelease(opts.release)) throw new UsageError(`--release ${JSON.stringify(opts.release)} is not a release name`);
      const { config, stateDir } = loadOrchestratorConfig(ctx);
      const expect = opts.expect ? parseTargets(opts.expect) : config.publishExpect;
      const r = await publishRelease({
        release: opts.release, channel: opts.channel, expect, timeoutMs: opts.timeout ? parseDuration(opts.timeout, '--timeout') : config.publishTimeout,
        dryRun: Boolean(opts.dryRun), deploy: opts.deploy, config, stateDir, logger: ctx.logger, now: new Date(), signal: ctx.signal,
      });
      describePublish(ctx, opts.release, r, Boolean(opts.dryRun));
    });
}
