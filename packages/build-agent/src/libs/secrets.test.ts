import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, PkgfleetError, describeError } from '@pkgfleet/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTool } from './run-tool';
import { maskError, resolveToken, secretForms } from './secrets';

const TOKEN = 'tok-3b9e1f7a2c5d4e60';

describe('tokens', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pkgfleet-secrets-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('takes --token-file over the environment over the config file', async () => {
    const flag = join(dir, 'flag');
    const conf = join(dir, 'conf');
    await writeFile(flag, 'from-flag\n', { mode: 0o600 });
    await writeFile(conf, 'from-config', { mode: 0o600 });
    const env = { CARGO_REGISTRY_TOKEN: 'from-env' };
    expect(await resolveToken({ flagFile: flag, envNames: ['CARGO_REGISTRY_TOKEN'], configFile: conf, env })).toMatchObject({ value: 'from-flag' });
    expect(await resolveToken({ envNames: ['CARGO_REGISTRY_TOKEN'], configFile: conf, env })).toEqual({ value: 'from-env', source: '$CARGO_REGISTRY_TOKEN' });
    expect(await resolveToken({ envNames: ['CARGO_REGISTRY_TOKEN'], configFile: conf, env: {} })).toMatchObject({ value: 'from-config' });
    expect(await resolveToken({ envNames: ['CARGO_REGISTRY_TOKEN'], env: {} })).toBeUndefined();
  });

  it('names an unreadable or empty token file, and warns about one others can read', async () => {
    await expect(resolveToken({ flagFile: join(dir, 'missing'), envNames: [] })).rejects.toThrow(/token file .*missing \(--token-file\): ENOENT/);
    await writeFile(join(dir, 'empty'), '\n');
    await expect(resolveToken({ flagFile: join(dir, 'empty'), envNames: [] })).rejects.toThrow(/is empty/);
    await writeFile(join(dir, 'open'), TOKEN, { mode: 0o644 });
    const logger = memoryLogger();
    await resolveToken({ flagFile: join(dir, 'open'), envNames: [], logger });
    expect(logger.lines.join('\n')).toContain('readable by other users');
  });
});

describe('masking', () => {
  it('masks a token in child output, whether stdout or stderr, split across chunks or not', async () => {
    const logger = memoryLogger('text');
    const script = `printf 'out ${TOKEN.slice(0, 6)}'; sleep 0.05; printf '${TOKEN.slice(6)} end\\n'; echo "err ${TOKEN}" >&2; echo "basic ${Buffer.from(`__token__:${TOKEN}`).toString('base64')}"`;
    const r = await runTool('sh', ['-c', script], { secrets: secretForms(TOKEN, '__token__'), logger });
    expect(r.code).toBe(0);
    const all = logger.lines.join('\n') + r.output;
    expect(all).not.toContain(TOKEN);
    expect(all).toContain('out *** end');
    expect(all).toContain('err ***');
    expect(all).toContain('basic ***');
  });

  it('masks an error message, hint and cause, keeping its class and code', () => {
    const cause = new Error(`HTTP 403: bad token ${TOKEN}`);
    const err = new PkgfleetError('E_X', `upload failed: ${TOKEN}`, `rotate ${TOKEN}`, { cause });
    const masked = maskError(err, [TOKEN]);
    expect(masked).toBeInstanceOf(PkgfleetError);
    expect(masked.code).toBe('E_X');
    expect(describeError(masked)).toBe('error: upload failed: ***\nhint: rotate ***');
    expect((masked.cause as Error).message).toBe('HTTP 403: bad token ***');
    expect(masked.stack).not.toContain(TOKEN);
  });
});
