import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, symlink } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';
import { rawRequest, sha256hex } from '../helpers/http-get';

let fx: RepoAgentFixture;
let url: string;
let stop: () => Promise<void>;
let first: string;

beforeAll(async () => {
  fx = await repoAgentFixture();
  await fx.ok(['init', '--trust-key', fx.keyFile]);
  first = (JSON.parse(await fx.ok(['import', '--from', await fx.tree({ packages: 3, packageSize: 4 << 20 }), '--json'])) as { id: string }).id;
  ({ url, stop } = await fx.serve());
});

afterAll(async () => {
  await stop?.();
  await fx?.cleanup();
});

const live = (rel: string) => readFile(join(fx.stateDir, 'current', rel));
const IN_RELEASE = '/apt/dists/stable/InRelease';
const DEB = '/apt/pool/main/p/pkg1/pkg1_1.0_amd64.deb';

describe('repo-agent serve --http', () => {
  it('serves the live snapshot with GET and HEAD, validators and caching headers', async () => {
    const get = await rawRequest(url, IN_RELEASE);
    expect(get.status).toBe(200);
    expect(get.body.equals(await live('apt/dists/stable/InRelease'))).toBe(true);
    expect(get.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(get.headers['cache-control']).toBe('public, max-age=60');
    expect(get.headers['accept-ranges']).toBe('bytes');
    expect(get.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    expect(new Date(get.headers['last-modified'] as string).getTime()).toBeGreaterThan(0);
    const head = await rawRequest(url, IN_RELEASE, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(get.body.length));
    expect(head.headers.etag).toBe(get.headers.etag);
  });

  it('answers 304 to a matching If-None-Match or a recent If-Modified-Since, 200 otherwise', async () => {
    const { headers } = await rawRequest(url, IN_RELEASE);
    const etag = headers.etag as string;
    const r304 = await rawRequest(url, IN_RELEASE, { headers: { 'If-None-Match': `"other", ${etag}` } });
    expect(r304.status).toBe(304);
    expect(r304.body.length).toBe(0);
    expect(r304.headers.etag).toBe(etag);
    expect((await rawRequest(url, IN_RELEASE, { headers: { 'If-None-Match': 'W/' + etag } })).status).toBe(304);
    expect((await rawRequest(url, IN_RELEASE, { headers: { 'If-None-Match': '"nope"' } })).status).toBe(200);
    const lm = headers['last-modified'] as string;
    expect((await rawRequest(url, IN_RELEASE, { headers: { 'If-Modified-Since': lm } })).status).toBe(304);
    expect((await rawRequest(url, IN_RELEASE, { headers: { 'If-Modified-Since': 'Thu, 01 Jan 1970 00:00:00 GMT' } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    expect((await rawRequest(url, IN_RELEASE, { headers: { 'If-None-Match': '"nope"', 'If-Modified-Since': lm } })).status).toBe(200);
  });

  it('serves single byte ranges (206), refuses unsatisfiable ones (416) and honours If-Range', async () => {
    const deb = await live(DEB.slice(1));
    const size = deb.length;
    const r = await rawRequest(url, DEB, { headers: { Range: 'bytes=100-199' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${size}`);
    expect(r.body.equals(deb.subarray(100, 200))).toBe(true);
    const suffix = await rawRequest(url, DEB, { headers: { Range: 'bytes=-10' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(deb.subarray(size - 10))).toBe(true);
    const open = await rawRequest(url, DEB, { headers: { Range: `bytes=${size - 5}-` } });
    expect(open.body.equals(deb.subarray(size - 5))).toBe(true);
    const past = await rawRequest(url, DEB, { headers: { Range: `bytes=${size}-` } });
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${size}`);
    // Several ranges are not supported: the whole file, which RFC 9110 allows.
    const multi = await rawRequest(url, DEB, { headers: { Range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    expect(multi.body.length).toBe(size);
    const etag = r.headers.etag as string;
    expect((await rawRequest(url, DEB, { headers: { Range: 'bytes=0-9', 'If-Range': etag } })).status).toBe(206);
    expect((await rawRequest(url, DEB, { headers: { Range: 'bytes=0-9', 'If-Range': '"stale"' } })).status).toBe(200);
    expect((await rawRequest(url, DEB, { headers: { Range: 'bytes=0-9', 'If-Range': r.headers['last-modified'] as string } })).status).toBe(206);
  });

  it('labels content types the way apt, dnf and browsers expect', async () => {
    const types: [string, string][] = [
      [DEB, 'application/vnd.debian.binary-package'],
      ['/rpm/stable/x86_64/Packages/pkg0-1.0-1.x86_64.rpm', 'application/x-rpm'],
      ['/rpm/stable/x86_64/repodata/repomd.xml', 'application/xml'],
      ['/rpm/stable/x86_64/repodata/repomd.xml.asc', 'application/pgp-signature'],
      ['/apt/dists/stable/Release.gpg', 'application/pgp-signature'],
      ['/apt/dists/stable/Release', 'text/plain; charset=utf-8'],
      ['/apt/dists/stable/main/binary-amd64/Packages', 'text/plain; charset=utf-8'],
      ['/apt/dists/stable/main/binary-amd64/Packages.gz', 'application/gzip'],
    ];
    for (const [path, type] of types) {
      const r = await rawRequest(url, path, { method: 'HEAD' });
      expect([path, r.status, r.headers['content-type']]).toEqual([path, 200, type]);
    }
    const immutable = (await rawRequest(url, '/rpm/stable/x86_64/repodata/repomd.xml')).body.toString().match(/href="(repodata\/[^"]+)"/)![1]!;
    expect((await rawRequest(url, `/rpm/stable/x86_64/${immutable}`, { method: 'HEAD' })).headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('never serves anything outside the live snapshot and lists no directory', async () => {
    // Plant links inside the live tree, as an intruder would: they must not lead out.
    const liveDir = join(fx.stateDir, 'snapshots', first);
    await symlink('/etc', join(liveDir, 'apt/etc-link'));
    await symlink('/etc/passwd', join(liveDir, 'apt/passwd-link'));
    await symlink('../../manifests', join(liveDir, 'apt/state-link'));
    const attempts = [
      '/../manifests',
      '/apt/../../manifests',
      '/apt/../../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/%2E%2E/manifests',
      '/.%2e/.%2e/etc/passwd',
      '/apt%2f..%2f..%2fmanifests',
      '/apt/%2F..%2F..%2Fetc%2Fpasswd',
      '/..%5c..%5cetc%5cpasswd',
      '/%252e%252e/%252e%252e/etc/passwd',
      '/apt/%00../../etc/passwd',
      '/apt/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
      '//etc/passwd',
      '/etc/passwd',
      '/apt/etc-link/passwd',
      '/apt/passwd-link',
      '/apt/state-link',
      `/apt/state-link/${first}.json`,
      'http://127.0.0.1/../../etc/passwd',
      '*',
    ];
    for (const target of attempts) {
      const r = await rawRequest(url, target);
      expect([target, [400, 404].includes(r.status)]).toEqual([target, true]);
      expect(r.body.toString()).not.toMatch(/root:|pkgfleet-snapshot-record/);
    }
    for (const dir of ['/', '/apt', '/apt/', '/apt/dists/stable/']) {
      const r = await rawRequest(url, dir);
      expect([dir, r.status]).toEqual([dir, 403]);
      expect(r.body.toString()).not.toContain('InRelease');
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await rawRequest(url, IN_RELEASE, { method });
      expect([method, r.status, r.headers.allow]).toEqual([method, 405, 'GET, HEAD']);
    }
  });

  it('follows a swap between requests while a request in flight finishes reading the old file', async () => {
    const oldDeb = await live(DEB.slice(1));
    const before = await rawRequest(url, IN_RELEASE);
    // Start a download, read a little, stop reading.
    let resolve!: (b: Buffer) => void;
    const done = new Promise<Buffer>((r) => (resolve = r));
    const chunks: Buffer[] = [];
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: DEB, agent: false }, (res) => {
      res.once('data', (c: Buffer) => {
        chunks.push(c);
        res.pause();
        resume.then(() => {
          res.on('data', (c2: Buffer) => chunks.push(c2));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.resume();
        });
      });
    });
    let go!: () => void;
    const resume = new Promise<void>((r) => (go = r));
    req.end();
    while (chunks.length === 0) await new Promise((r) => setTimeout(r, 10));
    // Swap to a tree that shares nothing, and remove the old snapshot from disk.
    const next = JSON.parse(await fx.ok(['import', '--from', await fx.tree({ packages: 3, variant: 'next' }), '--json'])) as { id: string };
    await fx.ok(['gc', '--keep', '1']);
    const after = await rawRequest(url, IN_RELEASE);
    expect(after.status).toBe(200);
    expect(after.body.equals(before.body)).toBe(false);
    expect(after.body.equals(await readFile(join(fx.stateDir, 'snapshots', next.id, 'apt/dists/stable/InRelease')))).toBe(true);
    go();
    const body = await done;
    expect(sha256hex(body)).toBe(sha256hex(oldDeb));
  });
});
