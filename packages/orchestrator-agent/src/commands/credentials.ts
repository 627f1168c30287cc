import { contextFor, parseDuration, UsageError, isValidRelease, isValidTarget, type Command } from '@pkgfleet/shared';

export function register(program: Command): void {
  const creds = program.command('credentials').description('per-machine, per-release credentials for build agents');

  creds
    .command('issue')
    .description('issue a credential good for one release and one target; writes it to FILE (mode 0600)')
    .requiredOption('--release <release>', 'release the credential may push to')
    .requiredOption('--target <target>', 'target (e.g. amd64-deb) the credential may push to')
    .option('--ttl <duration>', 'lifetime, e.g. 6h', '6h')
    .requiredOption('--out <file>', 'where to write the credential file')
    .action(async (opts: { release: string; target: string; ttl: string; out: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { orchestratorPaths }, { CredentialStore, writeCredentialFile }] = await Promise.all([import('../config'), import('../paths'), import('@pkgfleet/shared/transport/credentials')]);
      if (!isValidRelease(opts.release)) throw new UsageError(`--release ${JSON.stringify(opts.release)} is not a release name`, 'use vX.Y.Z or [A-Za-z0-9._-]+');
      if (!isValidTarget(opts.target)) throw new UsageError(`--target ${JSON.stringify(opts.target)} is not a target name`, 'use e.g. amd64-deb');
      const ttlMs = parseDuration(opts.ttl, '--ttl');
      const { config, stateDir } = loadOrchestratorConfig(ctx);
      const store = new CredentialStore(orchestratorPaths(stateDir).trust);
      if (!config.publicUrl) throw new UsageError(`no publicUrl in the orchestrator config`, 'run `orchestrator-agent init --public-url wss://HOST:PORT` first');
      const { file } = await store.issue({ role: 'build', release: opts.release, target: opts.target }, config.publicUrl, { ttlMs });
      await writeCredentialFile(opts.out, file);
      ctx.logger.info('issued credential', { id: file.id, release: opts.release, target: opts.target, expiresAt: file.expiresAt, out: opts.out });
      ctx.stdout(`${file.id} ${opts.out}`);
    });

  creds
    .command('revoke')
    .description('revoke credentials: one by id, all of a release (and target), or all')
    .option('--id <id>', 'credential id')
    .option('--release <release>', 'every credential of this release')
    .option('--target <target>', 'with --release: only this target')
    .option('--all', 'every credential')
    .action(async (opts: { id?: string; release?: string; target?: string; all?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { orchestratorPaths }, { CredentialStore }] = await Promise.all([import('../config'), import('../paths'), import('@pkgfleet/shared/transport/credentials')]);
      if (!opts.id && !opts.release && !opts.all) throw new UsageError('say which credentials to revoke', 'pass --id ID, --release R [--target T] or --all');
      const { stateDir } = loadOrchestratorConfig(ctx);
      const store = new CredentialStore(orchestratorPaths(stateDir).trust);
      const revoked = await store.revoke({ ...(opts.id ? { id: opts.id } : {}), ...(opts.release ? { release: opts.release } : {}), ...(opts.target ? { target: opts.target } : {}), ...(opts.all ? { all: true } : {}) });
      for (const r of revoked) ctx.logger.info('revoked credential', { id: r.id, release: r.release, target: r.target });
      ctx.stdout(`revoked ${revoked.length} credential(s)`);
    });

  creds
    .command('list')
    .description('credentials issued by this orchestrator')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { orchestratorPaths }, { CredentialStore }] = await Promise.all([import('../config'), import('../paths'), import('@pkgfleet/shared/transport/credentials')]);
      const { stateDir } = loadOrchestratorConfig(ctx);
      const list = new CredentialStore(orchestratorPaths(stateDir).trust).list();
      if (opts.json) return ctx.stdout(JSON.stringify({ credentials: list }, null, 2));
      for (const r of list) ctx.stdout(`${r.id}  ${r.role}  ${r.release ?? '-'}  ${r.target ?? '-'}  expires ${r.expiresAt ?? 'never'}${r.revokedAt ? `  REVOKED ${r.revokedAt}` : ''}`);
    });
}
