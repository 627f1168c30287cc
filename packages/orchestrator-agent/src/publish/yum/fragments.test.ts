import { describe, expect, it } from 'vitest';
import { filelistsHead, FILELISTS_TAIL, packageFromRpm, primaryHead, PRIMARY_TAIL, readRpm } from '@pkgfleet/shared';
import { makeRpm } from '../../../../../test/helpers/rpms';
import { fragmentsOf, joinFragments, splitPackages } from './fragments';

const pkg = (name: string, summary: string) => packageFromRpm(readRpm(makeRpm({ name, arch: 'x86_64', summary }), name));
const file = (c: string) => ({ href: `Packages/x/${c}.rpm`, sha256: c.repeat(64), size: 1, mtime: 2 });

describe('splitPackages', () => {
  // summaries that look like markup: escaped in the document, so they cannot end an element
  const a = fragmentsOf(pkg('alpha', 'has <package type="rpm"> and </package> in it'), file('a'));
  const b = fragmentsOf(pkg('beta', 'plain'), file('b'));

  it('gives back each package element of a document by package id', () => {
    const primary = Buffer.concat([Buffer.from(primaryHead(2)), a.primary, b.primary, Buffer.from(PRIMARY_TAIL)]);
    const byId = splitPackages(primary, 'primary');
    expect([...byId.keys()]).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    expect(byId.get('a'.repeat(64))!.equals(a.primary)).toBe(true);
    expect(byId.get('b'.repeat(64))!.equals(b.primary)).toBe(true);
    const filelists = splitPackages(Buffer.concat([Buffer.from(filelistsHead(2)), a.filelists, b.filelists, Buffer.from(FILELISTS_TAIL)]), 'filelists');
    expect(filelists.get('b'.repeat(64))!.equals(b.filelists)).toBe(true);
  });

  it('a cut or foreign document yields only the whole elements before the damage', () => {
    const cut = Buffer.concat([Buffer.from(primaryHead(2)), a.primary, b.primary.subarray(0, 40)]);
    expect([...splitPackages(cut, 'primary').keys()]).toEqual(['a'.repeat(64)]);
    const nested = Buffer.from(`${primaryHead(1)}<package type="rpm">\n<package type="rpm">\n</package>\n${PRIMARY_TAIL}`);
    expect(splitPackages(nested, 'primary').size).toBe(0);
    expect(splitPackages(Buffer.from('not xml at all'), 'other').size).toBe(0);
  });
});

describe('joinFragments', () => {
  it('is Buffer.concat, whether or not neighbours are adjacent views of one buffer', () => {
    const doc = Buffer.from('<a/><b/><c/><d/>');
    const [a, b, c, d] = [0, 4, 8, 12].map((i) => doc.subarray(i, i + 4));
    const other = Buffer.from('<x/>');
    for (const parts of [[a!, b!, c!, d!], [a!, c!, b!], [other, b!, c!, other, d!], [d!, a!], []]) {
      expect(joinFragments(parts).equals(Buffer.concat(parts))).toBe(true);
    }
  });
});
