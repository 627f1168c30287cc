import { join } from 'node:path';
import { authority, contextFor, CredentialStore, parseDuration, parseListen, UsageError, writeCredentialFile, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';

/** The repo server's trust store (TLS pre-shared keys, see docs/TRANSPORT.md). */
export function trustStore(stateDir: string): CredentialStore {
  return new CredentialStore(join(stateDir, 'trust'));
}

/** The URL an orchestrator uses to reach this repo-agent's deploy service. */
export function deployUrl(config: { publicUrl?: string | undefined; listen: string }): string {
  if (config.publicUrl) return config.publicUrl;
  const { host, port } = parseListen(config.listen);
  return `wss://${authority(host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port)}`;
}

export function register(program: Command): void {
  const creds = program.command('credentials').description('deploy credentials for orchestrators');
  creds
    .command('issue')
    .description('issue a deploy credential (all an orchestrator needs to deploy here); writes FILE mode 0600')
    .requiredOption('--out <file>', 'where to write the credential file')
    .option('--ttl <duration>', 'lifetime, e.g. 90d written as 2160h (default: no expiry)')
    .action(async (opts: { out: string; ttl?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { config, stateDir } = loadRepoAgent(ctx);
      const store = trustStore(stateDir);
      await store.init();
      const url = deployUrl(config);
      const { file } = await store.issue({ role: 'deploy' }, url, opts.ttl ? { ttlMs: parseDuration(opts.ttl, '--ttl') } : {});
      await writeCredentialFile(opts.out, file);
      ctx.logger.info('issued deploy credential', { id: file.id, url, out: opts.out });
      ctx.stdout(`${file.id} ${opts.out}`);
    });
  creds
    .command('revoke')
    .description('revoke a deploy credential by id, or all')
    .option('--id <id>', 'credential id')
    .option('--all', 'every credential')
    .action(async (opts: { id?: string; all?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      if (!opts.id && !opts.all) throw new UsageError('say which credentials to revoke', 'pass --id ID or --all');
      const { stateDir } = loadRepoAgent(ctx);
      const revoked = await trustStore(stateDir).revoke(opts.all ? { all: true } : { id: opts.id! });
      ctx.stdout(`revoked ${revoked.length} credential(s)`);
    });
  creds
    .command('list')
    .description('deploy credentials issued here')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { stateDir } = loadRepoAgent(ctx);
      const list = trustStore(stateDir).list();
      if (opts.json) return ctx.stdout(JSON.stringify({ credentials: list }, null, 2));
      for (const r of list) ctx.stdout(`${r.id}  ${r.role}  expires ${r.expiresAt ?? 'never'}${r.revokedAt ? `  REVOKED ${r.revokedAt}` : ''}`);
    });
}
