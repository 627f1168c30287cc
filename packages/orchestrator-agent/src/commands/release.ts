import { contextFor, describeError, isValidRelease, parseDuration, UsageError, type Command } from '@pkgfleet/shared';
import { describePublish } from './publish';

export function register(program: Command): void {
  program
    .command('release')
    .description('a whole release: create build machines, wait for their pushes, publish, deploy, and always delete the machines')
    .requiredOption('--release <release>', 'release, e.g. v1.2.3')
    .requiredOption('--channel <channel>', 'apt suite / yum channel (stable, nightly)')
    .requiredOption('--targets <targets>', 'comma-separated targets, e.g. amd64-deb,arm64-deb,amd64-rpm')
    .option('--provider <name>', 'digitalocean or local (default: machinesProvider in the config)')
    .option('--timeout <duration>', 'how long to wait for the builds to push (default: publishTimeout)')
    .action(async (opts: { release: string; channel: string; targets: string; provider?: string; timeout?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { createMachines, parseTargets }, { makeProvider, sshAccess }, { localProviderFactory, machineServices }, { publishRelease }] = await Promise.all([
        import('../config'), import('../machines/create'), import('../machines/factory'), import('../machines/services'), import('../release/publish-release'),
      ]);
      if (!isValidRelease(opts.release)) throw new UsageError(`--release ${JSON.stringify(opts.release)} is not a release name`);
      const targets = parseTargets(opts.targets);
      const { config, stateDir } = loadOrchestratorConfig(ctx, { machinesProvider: opts.provider });
      const provider = makeProvider(config.machinesProvider, ctx, config, { local: localProviderFactory });
      const svc = machineServices(ctx);
      let failure: unknown;
      try {
        await createMachines({
          provider, release: opts.release, targets, issueCredential: svc.issueCredential, readyTimeoutMs: config.machinesReadyTimeout,
          wait: { waitForRegistration: svc.waitForRegistration, timeoutMs: config.machinesRegisterTimeout },
          ssh: sshAccess(config, undefined), logger: ctx.logger, signal: ctx.signal,
        });
        ctx.stdout(`release ${opts.release}: ${targets.length} build machine(s) registered; waiting for their pushes`);
        const r = await publishRelease({
          release: opts.release, channel: opts.channel, expect: targets, timeoutMs: opts.timeout ? parseDuration(opts.timeout, '--timeout') : config.publishTimeout,
          dryRun: false, deploy: true, config, stateDir, logger: ctx.logger, now: new Date(), signal: ctx.signal,
        });
        describePublish(ctx, opts.release, r, false);
      } catch (err) {
        failure = err;
        ctx.logger.error(`release ${opts.release} failed; deleting its machines`, { reason: describeError(err).replace(/^error: /, '') });
      } finally {
        // Always: on success, failure, SIGINT and SIGTERM alike (no signal passed: it must run).
        const n = await provider.deleteRelease(opts.release);
        await svc.revoke(opts.release);
        ctx.stdout(`deleted ${n} build machine(s) of ${opts.release}`);
      }
      if (failure) throw failure;
    });
}
