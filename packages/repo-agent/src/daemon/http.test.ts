import { describe, expect, it } from 'vitest';
import { parseRange, requestSegments } from './http';
import { cacheControlOf, contentTypeOf, CACHE_IMMUTABLE, CACHE_POOL, CACHE_SHORT } from './content';

describe('Range (RFC 9110 §14)', () => {
  it.each([
    ['bytes=0-9', 100, [0, 9]],
    ['bytes=90-', 100, [90, 99]],
    ['bytes=-10', 100, [90, 99]],
    ['bytes=-1000', 100, [0, 99]],
    ['bytes=50-5000', 100, [50, 99]],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=9-1', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=-', 100, undefined],
  ] as const)('%s of %i bytes', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });
});

describe('request targets', () => {
  it('splits and decodes a path, dropping empty and "." segments and the query', () => {
    expect(requestSegments('/apt/dists/./stable//InRelease?x=1')).toEqual(['apt', 'dists', 'stable', 'InRelease']);
    expect(requestSegments('/pool/libc%2B%2B_1.0.deb')).toEqual(['pool', 'libc++_1.0.deb']);
  });
  it.each(['/../x', '/a/%2e%2e/b', '/a%2fb', '/a%5Cb', '/a%00', '/%zz', 'relative', '/a\\..\\b'])('refuses %j with 400', (target) => {
    expect(requestSegments(target)).toMatchObject({ status: 400 });
  });
});

describe('content types and caching', () => {
  it('labels repository files', () => {
    expect(contentTypeOf('apt/dists/s/InRelease')).toBe('text/plain; charset=utf-8');
    expect(contentTypeOf('apt/dists/s/main/i18n/Translation-en')).toBe('text/plain; charset=utf-8');
    expect(contentTypeOf('apt/dists/s/Release.gpg')).toBe('application/pgp-signature');
    expect(contentTypeOf('gpg/pkgfleet.asc')).toBe('application/pgp-keys');
    expect(contentTypeOf('x/y.deb')).toBe('application/vnd.debian.binary-package');
    expect(contentTypeOf('x/y.rpm')).toBe('application/x-rpm');
    expect(contentTypeOf('x/Packages.xz')).toBe('application/x-xz');
    expect(contentTypeOf('x/unknown')).toBe('application/octet-stream');
  });
  it('keeps entry points short, hash-named files forever and packages a week', () => {
    expect(cacheControlOf('apt/dists/s/InRelease')).toBe(CACHE_SHORT);
    expect(cacheControlOf('rpm/c/x86_64/repodata/repomd.xml')).toBe(CACHE_SHORT);
    expect(cacheControlOf('apt/dists/s/main/binary-amd64/Packages.gz')).toBe(CACHE_SHORT);
    expect(cacheControlOf(`apt/dists/s/main/binary-amd64/by-hash/SHA256/${'a'.repeat(64)}`)).toBe(CACHE_IMMUTABLE);
    expect(cacheControlOf(`rpm/c/x86_64/repodata/${'b'.repeat(64)}-primary.xml.gz`)).toBe(CACHE_IMMUTABLE);
    expect(cacheControlOf('apt/pool/main/h/hello/hello_1.0_amd64.deb')).toBe(CACHE_POOL);
  });
});
