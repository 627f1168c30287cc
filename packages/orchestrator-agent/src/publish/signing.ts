import { readFile, stat } from 'node:fs/promises';
import { loadSigner, PgpError, type Signer } from '@pkgfleet/shared';

export const PASSPHRASE_ENV = 'PKGFLEET_KEY_PASSPHRASE';

/** --passphrase-file wins over $PKGFLEET_KEY_PASSPHRASE; one trailing newline is not part of it. */
export async function readPassphrase(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (file) {
    try {
      return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new PgpError('E_PGP_PASSPHRASE', `passphrase file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, undefined, { cause: err });
    }
  }
  const v = env[PASSPHRASE_ENV];
  return v === undefined || v === '' ? undefined : v;
}

/** Read a private key file, refusing one that other users can read. */
export async function readPrivateKeyFile(file: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    throw new PgpError('E_PGP_READ', `signing key ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message}`, 'make one with `orchestrator-agent keys generate --out FILE`', { cause: err });
  }
  if (mode & 0o077) {
    throw new PgpError('E_PGP_KEY_MODE', `signing key ${file}: group or other users can access it (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`, `chmod 600 ${file}`);
  }
  return readFile(file, 'utf8');
}

export async function signerFromFiles(keyFile: string, passphraseFile: string | undefined): Promise<Signer> {
  const key = await readPrivateKeyFile(keyFile);
  return loadSigner(key, await readPassphrase(passphraseFile), `signing key ${keyFile}`);
}
