import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';
import { startNginx, type Nginx } from '../helpers/nginx';
import { rawRequest } from '../helpers/http-get';

/**
 * deploy/nginx/pkgfleet.conf, as shipped (root and listen substituted), run by the real nginx
 * against a repo-agent state dir: it serves the live snapshot with the same types and caching
 * rules as `repo-agent serve --http`, lists nothing, leaves nothing outside the snapshot, and
 * follows a swap.
 */
let fx: RepoAgentFixture;
let nginx: Nginx;
let first: string;

beforeAll(async () => {
  fx = await repoAgentFixture();
  await fx.ok(['init', '--trust-key', fx.keyFile]);
  first = (JSON.parse(await fx.ok(['import', '--from', await fx.tree({ packages: 3, packageSize: 64 * 1024 }), '--json'])) as { id: string }).id;
  const prefix = join(fx.dir, 'nginx');
  await mkdir(prefix);
  nginx = await startNginx(prefix, join(fx.stateDir, 'current'));
});

afterAll(async () => {
  await nginx?.stop();
  await fx?.cleanup();
});

const live = (rel: string) => readFile(join(fx.stateDir, 'current', rel));

describe('nginx with deploy/nginx/pkgfleet.conf', () => {
  it('serves the live snapshot with the content types and caching headers of the repo-agent', async () => {
    const expectations: [string, string, string][] = [
      ['/apt/dists/stable/InRelease', 'text/plain; charset=utf-8', 'public, max-age=60'],
      ['/apt/dists/stable/Release', 'text/plain; charset=utf-8', 'public, max-age=60'],
      ['/apt/dists/stable/Release.gpg', 'application/pgp-signature', 'public, max-age=60'],
      ['/apt/dists/stable/main/binary-amd64/Packages', 'text/plain; charset=utf-8', 'public, max-age=60'],
      ['/apt/dists/stable/main/binary-amd64/Packages.gz', 'application/gzip', 'public, max-age=60'],
      ['/apt/pool/main/p/pkg1/pkg1_1.0_amd64.deb', 'application/vnd.debian.binary-package', 'public, max-age=604800'],
      ['/rpm/stable/x86_64/Packages/pkg0-1.0-1.x86_64.rpm', 'application/x-rpm', 'public, max-age=604800'],
      ['/rpm/stable/x86_64/repodata/repomd.xml', 'application/xml', 'public, max-age=60'],
      ['/rpm/stable/x86_64/repodata/repomd.xml.asc', 'application/pgp-signature', 'public, max-age=60'],
    ];
    const repomd = (await live('rpm/stable/x86_64/repodata/repomd.xml')).toString();
    const primary = /href="(repodata\/[^"]+)"/.exec(repomd)![1]!;
    expectations.push([`/rpm/stable/x86_64/${primary}`, 'application/gzip', 'public, max-age=31536000, immutable']);
    const byHash = /^ ([0-9a-f]{64}) +\d+ main\/binary-amd64\/Packages$/m.exec((await live('apt/dists/stable/Release')).toString())![1]!;
    expectations.push([`/apt/dists/stable/main/binary-amd64/by-hash/SHA256/${byHash}`, 'application/octet-stream', 'public, max-age=31536000, immutable']);
    for (const [path, type, cache] of expectations) {
      const r = await rawRequest(nginx.url, path);
      expect([path, r.status, r.headers['content-type'], r.headers['cache-control']]).toEqual([path, 200, type, cache]);
      expect(r.body.equals(await live(path.slice(1)))).toBe(true);
    }
  });

  it('answers ranges and conditional requests', async () => {
    const path = '/apt/pool/main/p/pkg1/pkg1_1.0_amd64.deb';
    const deb = await live(path.slice(1));
    const r = await rawRequest(nginx.url, path, { headers: { Range: 'bytes=10-19' } });
    expect(r.status).toBe(206);
    expect(r.body.equals(deb.subarray(10, 20))).toBe(true);
    expect((await rawRequest(nginx.url, path, { headers: { Range: `bytes=${deb.length}-` } })).status).toBe(416);
    const etag = r.headers.etag as string;
    expect((await rawRequest(nginx.url, path, { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await rawRequest(nginx.url, path, { headers: { 'If-Modified-Since': r.headers['last-modified'] as string } })).status).toBe(304);
  });

  it('lists no directory, follows no symlink planted in the snapshot, and answers only GET and HEAD', async () => {
    const liveDir = join(fx.stateDir, 'snapshots', first);
    await symlink('/etc', join(liveDir, 'apt/etc-link'));
    await symlink('/etc/passwd', join(liveDir, 'apt/passwd-link'));
    for (const target of ['/apt/etc-link/passwd', '/apt/passwd-link', '/../manifests', '/apt/../../manifests', '/%2e%2e/%2e%2e/etc/passwd', '/apt/%2e%2e/%2e%2e/manifests', '/..%2f..%2fetc/passwd']) {
      const r = await rawRequest(nginx.url, target);
      expect([target, [400, 403, 404].includes(r.status)]).toEqual([target, true]);
      expect(r.body.toString()).not.toMatch(/root:|pkgfleet-snapshot-record/);
    }
    for (const dir of ['/', '/apt/', '/apt', '/apt/dists/stable/']) {
      const r = await rawRequest(nginx.url, dir);
      expect([dir, [403, 404].includes(r.status)]).toEqual([dir, true]);
      expect(r.body.toString()).not.toContain('InRelease');
    }
    const post = await rawRequest(nginx.url, '/apt/dists/stable/InRelease', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await rawRequest(nginx.url, '/apt/dists/stable/InRelease', { method: 'HEAD' })).status).toBe(200);
  });

  it('follows a swap and a rollback on the next request', async () => {
    const before = await rawRequest(nginx.url, '/apt/dists/stable/InRelease');
    await fx.ok(['import', '--from', await fx.tree({ packages: 3, variant: 'next' })]);
    const after = await rawRequest(nginx.url, '/apt/dists/stable/InRelease');
    expect(after.body.equals(before.body)).toBe(false);
    expect(after.body.equals(await live('apt/dists/stable/InRelease'))).toBe(true);
    await fx.ok(['rollback']);
    expect((await rawRequest(nginx.url, '/apt/dists/stable/InRelease')).body.equals(before.body)).toBe(true);
  });
});
