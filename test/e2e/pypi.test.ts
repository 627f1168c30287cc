/**
 * `build-agent pypi upload` as a real process, driving the real twine against a PyPI emulator
 * (legacy upload API + JSON API) on 127.0.0.1, with a wheel and sdist built by setuptools.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../helpers/agents';
import { startPypiServer, type PypiServer } from '../helpers/pypi-server';
import { buildPythonDists, type PythonDists } from '../helpers/python-dist';

const TOKEN = 'pypi-AgEIcHlwaS5vcmcCJDU3ZTRiYTQ2LXRlc3QtdG9rZW4';

describe('build-agent pypi upload (real twine, PyPI emulator)', () => {
  let dir: string;
  let server: PypiServer | undefined;
  let dists: PythonDists;
  let config: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pkgfleet-pypi-'));
    config = join(dir, 'build-agent.json');
    await writeFile(config, JSON.stringify({ registryRetryDelay: '100ms' }));
    dists = await buildPythonDists(join(dir, 'one'), { name: 'demo-mod', version: '1.2.3' });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(opts: { echoAuthInErrors?: boolean } = {}) {
    server = await startPypiServer({ token: TOKEN, ...opts });
  }

  const upload = (args: string[], env: NodeJS.ProcessEnv = { TWINE_PASSWORD: TOKEN }) =>
    runAgent('build-agent', ['--config', config, '--log-format', 'json', 'pypi', 'upload', '--release', 'v1.2.3', '--repository-url', server!.uploadUrl, ...args], {
      env: { TWINE_PASSWORD: undefined, PYPI_TOKEN: undefined, TWINE_USERNAME: undefined, ...env },
    });

  const posts = () => server!.requests.filter((r) => r.startsWith('POST'));

  it('uploads the wheel and the sdist; a re-run skips both and exits 0', async () => {
    await start();
    const first = await upload(['--json', dists.wheel, dists.sdist]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ published: 2, alreadyThere: 0, failed: 0 });
    expect(server!.uploaded.sort()).toEqual(['demo-mod-1.2.3.tar.gz', 'demo_mod-1.2.3-py3-none-any.whl']);
    expect(server!.files('demo-mod', '1.2.3')).toHaveLength(2);

    const before = posts().length;
    const again = await upload([dists.wheel, dists.sdist], { PYPI_TOKEN: TOKEN });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('pypi v1.2.3: 0 published, 2 already there, 0 failed');
    expect(posts()).toHaveLength(before);
    for (const out of [first.stdout, first.stderr, again.stdout, again.stderr]) expect(out).not.toContain(TOKEN);
  });

  it('refuses a file the index has with other content, with a clear error and exit 1', async () => {
    await start();
    expect((await upload([dists.wheel, dists.sdist])).code).toBe(0);
    const rebuilt = await buildPythonDists(join(dir, 'two'), { name: 'demo-mod', version: '1.2.3', body: 'VALUE = 2' });
    const r = await upload([rebuilt.wheel, rebuilt.sdist]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('pypi v1.2.3: 0 published, 0 already there, 2 failed');
    expect(r.stderr).toMatch(/error: 2 of 2 files failed: demo_mod-1\.2\.3-py3-none-any\.whl \(the index has demo_mod-1\.2\.3-py3-none-any\.whl with other content .*PyPI never accepts a file name twice: release a new version\)/);
    expect(server!.uploaded).toHaveLength(2);
  });

  it('turns twine\'s "File already exists" into the same clear error when the JSON API lags', async () => {
    await start();
    const rebuilt = await buildPythonDists(join(dir, 'two'), { name: 'demo-mod', version: '1.2.3', body: 'VALUE = 2' });
    expect((await upload([rebuilt.wheel])).code).toBe(0);
    // The JSON API says 404 once (stale cache); the upload then gets Warehouse's 400 "File already exists".
    server!.inject('GET', '/pypi/', [{ status: 404 }]);
    const r = await upload([dists.wheel]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('File already exists');
    expect(r.stderr).toContain('with other content');
  });

  it('retries a burst of 429s (with Retry-After) from the upload and JSON APIs', async () => {
    await start();
    server!.inject('GET', '/pypi/', [{ status: 429, retryAfter: '1' }]);
    server!.inject('POST', '/legacy/', [{ status: 429, retryAfter: '1' }, { status: 429, retryAfter: '1' }, { status: 503 }]);
    const r = await upload([dists.wheel]);
    expect(r.code, r.stderr).toBe(0);
    expect(posts().map((p) => p.split(' ').pop())).toEqual(['429', '429', '503', '200']);
    expect(server!.requests).toContain('GET /pypi/demo-mod/1.2.3/json 429');
    expect(server!.uploaded).toEqual(['demo_mod-1.2.3-py3-none-any.whl']);
  });

  it('in a dry run says what it would upload and uploads nothing', async () => {
    await start();
    const r = await upload(['--dry-run', dists.wheel, dists.sdist]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('pypi v1.2.3 (dry run): 2 would be published, 0 already there, 0 failed');
    expect(posts()).toEqual([]);
    const tokenless = await upload(['--dry-run', dists.wheel], {});
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toContain('error: no API token for');
  });

  it('refuses files whose version is not the release, and files that are not wheels or sdists', async () => {
    await start();
    const r = await runAgent('build-agent', ['--config', config, 'pypi', 'upload', '--release', 'v1.2.4', '--repository-url', server!.uploadUrl, dists.wheel], { env: { TWINE_PASSWORD: TOKEN } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('version 1.2.3, release v1.2.4 wants 1.2.4');
    const notDist = join(dir, 'demo_mod-1.2.3.egg');
    await writeFile(notDist, 'x');
    const r2 = await upload([dists.wheel, notDist]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('demo_mod-1.2.3.egg: not a wheel (.whl) or sdist');
    expect(posts()).toEqual([]);
  });

  it('never shows the token, even when the index echoes the credentials in an error', async () => {
    await start({ echoAuthInErrors: true });
    const wrong = 'pypi-AgEIcHlwaS5vcmcWRONGd3JvbmctdG9rZW4tMTIz';
    const tokenFile = join(dir, 'pypi-token');
    await writeFile(tokenFile, wrong + '\n', { mode: 0o600 });
    for (const format of ['json', 'text']) {
      const r = await runAgent(
        'build-agent',
        ['--config', config, '--log-format', format, 'pypi', 'upload', '--release', 'v1.2.3', '--repository-url', server!.uploadUrl, '--token-file', tokenFile, dists.wheel],
        { env: { TWINE_PASSWORD: undefined, PYPI_TOKEN: undefined } },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('403');
      expect(r.stderr).toContain('***');
      const basic = Buffer.from(`__token__:${wrong}`).toString('base64');
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain(wrong);
        expect(out).not.toContain(basic);
        expect(out).not.toContain(TOKEN);
      }
    }
  });
});
