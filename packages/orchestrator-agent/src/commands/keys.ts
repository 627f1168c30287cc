import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { contextFor, Option, UsageError, type Command } from '@pkgfleet/shared';

/** Where `keys export` looks without --key: $PKGFLEET_SIGNING_KEY, else <state-dir>/keys/signing.asc. */
function defaultKeyFile(stateDir: string): string {
  return process.env.PKGFLEET_SIGNING_KEY || join(stateDir, 'keys', 'signing.asc');
}

export function register(program: Command): void {
  const keys = program.command('keys').description('the OpenPGP key that signs the repositories');
  keys
    .command('generate')
    .description('make a new signing key (v4; Ed25519 or RSA-4096), written armored with mode 0600')
    .requiredOption('--name <name>', 'user ID name, e.g. "Example Packages"')
    .requiredOption('--email <email>', 'user ID email')
    .addOption(new Option('--algo <algo>', 'key algorithm').choices(['ed25519', 'rsa4096']).default('ed25519'))
    .option('--passphrase-file <file>', `protect the key with the passphrase in FILE (or $PKGFLEET_KEY_PASSPHRASE)`)
    .requiredOption('--out <file>', 'where to write the private key (must not exist)')
    .action(async (opts: { name: string; email: string; algo: 'ed25519' | 'rsa4096'; passphraseFile?: string; out: string }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ readPassphrase }, { generateSigningKey }, { writeFileAtomic }] = await Promise.all([import('../publish/signing'), import('@pkgfleet/shared/pgp/keys'), import('@pkgfleet/shared/fs/atomic')]);
      const exists = await access(opts.out).then(() => true, () => false);
      if (exists) throw new UsageError(`${opts.out} already exists: not overwriting a key`, 'choose another --out, or remove the old key first');
      const passphrase = await readPassphrase(opts.passphraseFile);
      const k = await generateSigningKey({ name: opts.name, email: opts.email, algo: opts.algo, passphrase });
      await writeFileAtomic(opts.out, k.privateKeyArmored, { mode: 0o600 });
      ctx.logger.info('signing key written', { file: opts.out, algo: opts.algo, fingerprint: k.fingerprint, protected: passphrase !== undefined });
      ctx.stdout(k.fingerprint);
    });
  keys
    .command('export')
    .description('print the public key (binary, for signed-by=; --armor for .asc)')
    .option('--key <file>', 'the private key file (default $PKGFLEET_SIGNING_KEY, else STATE_DIR/keys/signing.asc)')
    .option('--armor', 'ASCII-armored output')
    .action(async (opts: { key?: string; armor?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd, 'orchestrator-agent');
      const [{ loadOrchestratorConfig }, { readPrivateKeyFile }, { exportPublicKey }] = await Promise.all([import('../config'), import('../publish/signing'), import('@pkgfleet/shared/pgp/keys')]);
      const file = opts.key ?? defaultKeyFile(loadOrchestratorConfig(ctx).stateDir);
      const text = await readPrivateKeyFile(file);
      const out = await exportPublicKey(text, opts.armor === true, file);
      await new Promise<void>((resolve, reject) => process.stdout.write(out, (err) => (err ? reject(err) : resolve())));
    });
}
