/**
 * `build-agent crates publish` as a real process, driving the real cargo against a crates.io-like
 * registry on 127.0.0.1 (git index on disk, publish API emulator).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../helpers/agents';
import { startCratesRegistry, type CratesRegistry } from '../helpers/crates-registry';
import { writeCargoHome, writeCratePair, type CratePair } from '../helpers/rust-crates';

const run = promisify(execFile);
const TOKEN = 'cio-test-token-5f0e8a2b9c4d4e7f';

/**
 * The cargo on PATH (rustup's, or Debian's in CI), and Debian's /usr/bin/cargo as well when it is
 * a different one: old cargo does not wait for the index after a publish and reports an existing
 * version only through the registry's error, new cargo does both itself.
 */
function cargos(): Array<{ label: string; bin: string }> {
  const onPath = execFileSync('sh', ['-c', 'command -v cargo || true'], { encoding: 'utf8' }).trim();
  const list = [{ label: onPath ? `cargo on PATH (${onPath})` : 'cargo on PATH', bin: onPath || 'cargo' }];
  if (existsSync('/usr/bin/cargo') && (!onPath || realpathSync(onPath) !== realpathSync('/usr/bin/cargo'))) list.push({ label: "Debian's /usr/bin/cargo", bin: '/usr/bin/cargo' });
  return list;
}

describe.each(cargos())('build-agent crates publish with $label, registry emulator', ({ bin: cargo }) => {
  let dir: string;
  let registry: CratesRegistry | undefined;
  let crates: CratePair;
  let env: NodeJS.ProcessEnv;
  let config: string;

  async function setup(opts: { indexDelayMs?: number; echoAuthInErrors?: boolean } = {}) {
    registry = await startCratesRegistry({ dir, token: TOKEN, ...opts });
    const cargoHome = await writeCargoHome(dir, { test: registry.indexUrl });
    crates = await writeCratePair(join(dir, 'src'), { version: '1.2.3', registry: 'test' });
    // Short retry delays keep the 429 tests quick; everything else is the default.
    config = join(dir, 'build-agent.json');
    await writeFile(config, JSON.stringify({ registryRetryDelay: '100ms', cratesIndexTimeout: '60s' }));
    env = { CARGO_HOME: cargoHome, CARGO_REGISTRIES_TEST_TOKEN: TOKEN, CARGO_TARGET_DIR: join(dir, 'target'), PKGFLEET_CARGO: cargo };
  }

  const publish = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runAgent('build-agent', ['--config', config, '--log-format', 'json', 'crates', 'publish', '--release', 'v1.2.3', '--registry', 'test', ...args], { env: { ...env, ...extraEnv } });

  const noToken = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(TOKEN);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pkgfleet-crates-'));
  });
  afterEach(async () => {
    await registry?.close();
    registry = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes tools before core whatever the order given; a re-run uploads nothing and exits 0', async () => {
    await setup();
    const first = await publish(['--json', crates.core, crates.tools]);
    expect(first.code, first.stderr).toBe(0);
    expect(registry!.published).toEqual(['demo-tools@1.2.3', 'demo-core@1.2.3']);
    const summary = JSON.parse(first.stdout) as { published: number; alreadyThere: number; failed: number; outcomes: Array<{ item: string; status: string }> };
    expect(summary).toMatchObject({ published: 2, alreadyThere: 0, failed: 0 });
    expect(summary.outcomes.map((o) => o.item)).toEqual(['demo-tools 1.2.3', 'demo-core 1.2.3']);
    // The index holds core with its dependency on tools, as cargo sent it.
    const [coreLine] = (await registry!.indexLines('demo-core')) as Array<{ vers: string; deps: Array<{ name: string; req: string }> }>;
    expect(coreLine).toMatchObject({ vers: '1.2.3', deps: [{ name: 'demo-tools', req: '^1.2.3' }] });
    noToken(first);

    const putsBefore = registry!.requests.filter((r) => r.startsWith('PUT')).length;
    const again = await publish([crates.tools, crates.core]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('crates v1.2.3: 0 published, 2 already there, 0 failed');
    expect(registry!.requests.filter((r) => r.startsWith('PUT')).length).toBe(putsBefore);
    expect(registry!.published).toHaveLength(2);
    noToken(again);
  });

  it('treats cargo\'s "already exists" as already there when the API lags the index', async () => {
    await setup();
    expect((await publish(['--no-verify', crates.tools])).code).toBe(0);
    // The API says 404 once (a stale replica); cargo then finds the version in the index itself.
    registry!.inject('GET', '/api/v1/crates/demo-tools/', [{ status: 404, detail: 'crate `demo-tools` does not have a version `1.2.3`' }]);
    const r = await publish(['--no-verify', '--json', crates.tools, crates.core]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 1, alreadyThere: 1, failed: 0 });
    expect(registry!.published).toEqual(['demo-tools@1.2.3', 'demo-core@1.2.3']);
  });

  it('waits until a dependency is visible in the index before publishing its dependent', async () => {
    await setup({ indexDelayMs: 4000 });
    // An earlier run published tools; the registry's API knows it, its index does not show it yet.
    await run(cargo, ['package', '--no-verify', '--manifest-path', join(crates.tools, 'Cargo.toml')], { env: { ...process.env, ...env } });
    registry!.preload({ name: 'demo-tools', vers: '1.2.3' }, await readFile(join(dir, 'target', 'package', 'demo-tools-1.2.3.crate')));
    const r = await publish(['--no-verify', '--json', crates.core, crates.tools]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ published: 1, alreadyThere: 1, failed: 0 });
    const msgs = r.stderr.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
    const waited = msgs.findIndex((m) => m.startsWith('waiting for demo-tools 1.2.3 to appear in the index'));
    const seen = msgs.indexOf('demo-tools 1.2.3 now in the index');
    const publishing = msgs.indexOf('publishing demo-core 1.2.3');
    expect(waited).toBeGreaterThanOrEqual(0);
    expect(seen).toBeGreaterThan(waited);
    expect(publishing).toBeGreaterThan(seen);
  });

  it('fails the dependent, not the run\'s other work, when the index does not catch up by the deadline', async () => {
    await setup({ indexDelayMs: 60_000 });
    await run(cargo, ['package', '--no-verify', '--manifest-path', join(crates.tools, 'Cargo.toml')], { env: { ...process.env, ...env } });
    registry!.preload({ name: 'demo-tools', vers: '1.2.3' }, await readFile(join(dir, 'target', 'package', 'demo-tools-1.2.3.crate')));
    const r = await publish(['--no-verify', '--index-timeout', '3s', crates.core, crates.tools]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('crates v1.2.3: 0 published, 1 already there, 1 failed');
    expect(r.stderr).toMatch(/error: 1 of 2 crates failed: demo-core 1.2.3 \(not published: demo-tools 1.2.3 not in the index after 3s/);
    expect(registry!.published).toEqual(['demo-tools@1.2.3']);
  });

  it('publishes to a registry named only by --index, with no cargo config for it', async () => {
    await setup();
    env.CARGO_HOME = await writeCargoHome(join(dir, 'bare'), {});
    const r = await publish(['--no-verify', '--index', registry!.indexUrl, crates.core, crates.tools]);
    expect(r.code, r.stderr).toBe(0);
    expect(registry!.published).toEqual(['demo-tools@1.2.3', 'demo-core@1.2.3']);
  });

  it('retries 429 and 5xx answers of the registry', async () => {
    await setup();
    registry!.inject('GET', '/api/v1/crates/demo-tools/', [{ status: 429, retryAfter: '1' }]);
    registry!.inject('PUT', '/api/v1/crates/new', [{ status: 429, detail: 'You have published too many crates in a short period of time' }, { status: 503 }]);
    const r = await publish(['--no-verify', crates.tools]);
    expect(r.code, r.stderr).toBe(0);
    expect(registry!.requests.filter((q) => q.startsWith('PUT')).map((q) => q.split(' ').pop())).toEqual(['429', '503', '200']);
    expect(registry!.requests).toContain('GET /api/v1/crates/demo-tools/1.2.3 429');
    expect(r.stderr).toContain('retrying');
    expect(registry!.published).toEqual(['demo-tools@1.2.3']);
  });

  it('in a dry run says what it would publish and uploads nothing', async () => {
    await setup();
    const r = await publish(['--dry-run', crates.core, crates.tools]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('crates v1.2.3 (dry run): 2 would be published, 0 already there, 0 failed');
    expect(r.stdout.indexOf('demo-tools 1.2.3')).toBeLessThan(r.stdout.indexOf('demo-core 1.2.3'));
    expect(registry!.requests.filter((q) => q.startsWith('PUT'))).toEqual([]);
    // A dry run also checks that a token is there.
    const tokenless = await publish(['--dry-run', crates.tools], { CARGO_REGISTRIES_TEST_TOKEN: '' });
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toContain('error: no token for the test registry');
  });

  it('refuses crates whose version is not the release, before uploading anything', async () => {
    await setup();
    const r = await runAgent('build-agent', ['--config', config, 'crates', 'publish', '--release', 'v1.2.4', '--registry', 'test', crates.tools, crates.core], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('demo-tools has version 1.2.3, release v1.2.4 wants 1.2.4');
    expect(registry!.requests.filter((q) => q.startsWith('PUT'))).toEqual([]);
  });

  it('never shows the token, even when the registry echoes it in an error', async () => {
    await setup({ echoAuthInErrors: true });
    const wrong = 'cio-wrong-token-0c7d1e9a3b5f4a62';
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, wrong + '\n', { mode: 0o600 });
    for (const format of ['json', 'text']) {
      const r = await runAgent(
        'build-agent',
        ['--config', config, '--log-format', format, 'crates', 'publish', '--release', 'v1.2.3', '--registry', 'test', '--token-file', tokenFile, '--no-verify', crates.tools],
        { env },
      );
      expect(r.code).toBe(1);
      // cargo printed the registry's answer (with the token in it); what reached us is masked.
      expect(r.stderr).toContain('authentication failed');
      expect(r.stderr).toContain('***');
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain(wrong);
        expect(out).not.toContain(TOKEN);
      }
    }
  });
});
