import { describe, expect, it } from 'vitest';
import { lackingContent, parseManifest, serializeManifest, snapshotPathProblem, validateManifest } from './manifest';
import { graceCarryOver, isHashNamedPath } from './grace';
import { checkReleaseHashes, signatureChecks } from './signed';

const H = (c: string) => c.repeat(64);

describe('snapshot paths', () => {
  it.each([
    ['../etc/passwd', "'..'"],
    ['a/../../b', "'..'"],
    ['/etc/passwd', 'absolute'],
    ['a//b', 'empty path segment'],
    ['a/', 'empty path segment'],
    ['./a', "'.'"],
    ['a\u0000b', 'control'],
    ['a\nb', 'control'],
    ['a\\..\\b', 'backslash'],
    ['', 'empty'],
  ])('refuses %j', (path, why) => {
    expect(snapshotPathProblem(path)).toContain(why);
  });
  it.each(['apt/dists/stable/InRelease', 'rpm/stable/x86_64/repodata/repomd.xml', 'a..b/c.deb', 'pool/main/libc++/x_1.0+b1_amd64.deb'])('accepts %j', (path) => {
    expect(snapshotPathProblem(path)).toBeUndefined();
  });
});

describe('manifest', () => {
  const entry = { path: 'a/b', size: 3, sha256: H('a'), mode: 0o644 };
  it('round-trips through its JSON text, sorted by path', () => {
    const m = { entries: [{ ...entry, path: 'z' }, entry] };
    expect(parseManifest(serializeManifest(m)).entries.map((e) => e.path)).toEqual(['a/b', 'z']);
  });
  it('refuses duplicates, a file used as a directory, bad hashes, set-id modes and oversize files', () => {
    expect(() => validateManifest({ entries: [entry, entry] })).toThrow(/listed twice/);
    expect(() => validateManifest({ entries: [{ ...entry, path: 'a' }, entry] })).toThrow(/listed as a file/);
    expect(() => validateManifest({ entries: [{ ...entry, sha256: 'abc' }] })).toThrow(/sha256/);
    expect(() => validateManifest({ entries: [{ ...entry, mode: 0o4755 }] })).toThrow(/mode/);
    expect(() => validateManifest({ entries: [{ ...entry, size: 10 }] }, 'm', { maxEntries: 10, maxFileSize: 5, maxPathLength: 100 })).toThrow(/maxFileSize=5/);
    expect(() => validateManifest({ entries: [entry, { ...entry, path: 'c' }] }, 'm', { maxEntries: 1, maxFileSize: 5, maxPathLength: 100 })).toThrow(/maxEntries=1/);
  });
  it('lists each lacking content once, whatever the number of paths that share it', () => {
    const m = { entries: [entry, { ...entry, path: 'c' }, { ...entry, path: 'd', sha256: H('b') }, { ...entry, path: 'e', sha256: H('c') }] };
    const held = new Map([[H('b'), 'somewhere']]);
    expect(lackingContent(m, held).map((e) => e.path)).toEqual(['a/b', 'e']);
  });
});

describe('grace period', () => {
  it('recognizes by-hash and hash-named repodata files only', () => {
    expect(isHashNamedPath(`apt/dists/stable/main/binary-amd64/by-hash/SHA256/${H('a')}`)).toBe(true);
    expect(isHashNamedPath(`rpm/stable/x86_64/repodata/${H('b')}-primary.xml.gz`)).toBe(true);
    expect(isHashNamedPath('apt/dists/stable/main/binary-amd64/Packages')).toBe(false);
    expect(isHashNamedPath('rpm/stable/x86_64/repodata/repomd.xml')).toBe(false);
    expect(isHashNamedPath(`apt/pool/main/by-hash/SHA256/${H('a')}`)).toBe(false);
  });
  it('carries the live hash-named files until now + grace and keeps earlier deadlines', () => {
    const byHash = (c: string) => ({ path: `dists/s/main/by-hash/SHA256/${H(c)}`, size: 1, sha256: H(c), mode: 0o644 });
    const live = { entries: [byHash('a'), { path: 'dists/s/InRelease', size: 1, sha256: H('f'), mode: 0o644 }], grace: [{ ...byHash('b'), until: 1500 }, { ...byHash('c'), until: 900 }] };
    const next = { entries: [byHash('d')] };
    const carried = graceCarryOver(live, next, 1000, 600);
    expect(carried.map((g) => [g.sha256, g.until])).toEqual([[H('a'), 1600], [H('b'), 1500]]);
    expect(graceCarryOver(live, next, 1000, 0)).toEqual([]);
  });
});

describe('signed metadata', () => {
  it('asks for InRelease, Release.gpg and repomd.xml.asc checks and refuses unsigned metadata', () => {
    const p = (path: string) => ({ path });
    expect(signatureChecks(['apt/dists/s/InRelease', 'apt/dists/s/Release', 'apt/dists/s/Release.gpg', 'apt/dists/s/main/binary-amd64/Release', 'r/repodata/repomd.xml', 'r/repodata/repomd.xml.asc'].map(p))).toEqual([
      { kind: 'clearsigned', path: 'apt/dists/s/InRelease', release: 'apt/dists/s/Release' },
      { kind: 'detached', data: 'apt/dists/s/Release', signature: 'apt/dists/s/Release.gpg' },
      { kind: 'detached', data: 'r/repodata/repomd.xml', signature: 'r/repodata/repomd.xml.asc' },
    ]);
    expect(() => signatureChecks(['dists/s/Release', 'dists/s/InRelease'].map(p))).toThrow(/no Release.gpg/);
    expect(() => signatureChecks(['dists/s/Release', 'dists/s/Release.gpg'].map(p))).toThrow(/InRelease is missing/);
    expect(() => signatureChecks(['repodata/repomd.xml'].map(p))).toThrow(/no repomd.xml.asc/);
  });
  it('checks the indexes a Release lists against the files present', () => {
    const files = new Map([['d/s/main/Packages', { path: 'd/s/main/Packages', size: 10, sha256: H('a'), mode: 0o644 }]]);
    const release = (sum: string, size: number) => `Suite: s\nSHA256:\n ${sum} ${size} main/Packages\n ${H('e')} 5 main/Packages.xz\n`;
    expect(checkReleaseHashes(release(H('a'), 10), 'd/s', files, 'x')).toBe(1);
    expect(() => checkReleaseHashes(release(H('b'), 10), 'd/s', files, 'x')).toThrow(/does not match/);
    expect(() => checkReleaseHashes(release(H('a'), 11), 'd/s', files, 'x')).toThrow(/does not match/);
  });
});
