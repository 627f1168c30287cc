import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { contextFor, ConfigError, readPublicKey, writeAgentConfig, writeFileAtomic, type Command } from '@pkgfleet/shared';
import { loadRepoAgent } from '../config';
import { trustStore } from './credentials';

export function register(program: Command): void {
  program
    .command('init')
    .description('create the state dir and config; FILE is the public key whose signatures deploys must carry; idempotent')
    .requiredOption('--trust-key <file>', 'OpenPGP public key (armored .asc or binary .gpg) the orchestrator signs with')
    .option('--listen <addr>', 'address the deploy service will listen on (HOST:PORT)')
    .option('--http <addr>', 'serve the live snapshot over HTTP on this address (HOST:PORT)')
    .action(async (opts: { trustKey: string; listen?: string; http?: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'repo-agent');
      const { stateDir, configFile, store } = loadRepoAgent(ctx, { listen: opts.listen, http: opts.http });
      let data: Buffer;
      try {
        data = await readFile(opts.trustKey);
      } catch (err) {
        throw new ConfigError('E_TRUST_KEY', `--trust-key ${opts.trustKey}: ${(err as Error).message}`, 'pass the public key file made by `orchestrator-agent keys export`', { cause: err });
      }
      const armored = data.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
      const key = await readPublicKey(armored ? data.toString('utf8') : new Uint8Array(data), opts.trustKey);
      await mkdir(stateDir, { recursive: true, mode: 0o755 });
      await store.init();
      // A copy in the state dir: the key a deploy is checked against does not move with the source file.
      const trustKey = join(stateDir, armored ? 'trusted-key.asc' : 'trusted-key.gpg');
      await writeFileAtomic(trustKey, data, { mode: 0o644 });
      await trustStore(stateDir).init();
      await writeAgentConfig(configFile, { stateDir: resolve(stateDir), trustKey, listen: opts.listen, http: opts.http });
      const fingerprint = key.getFingerprint().toUpperCase();
      ctx.logger.info('repo-agent initialized', { stateDir, config: configFile, trustKey, fingerprint });
      ctx.stdout(`initialized: state ${stateDir}, config ${configFile}, trusted key ${fingerprint}`);
    });
}
