import { describe, expect, it } from 'vitest';
import { ManifestText, type IncomingEntry } from './receiver';

const entry = (name: string, n = 0): IncomingEntry => ({ name, size: n, sha256: String(n).repeat(64).slice(0, 64), receivedAt: new Date(n * 1000).toISOString(), pushedBy: `build-${n}@host` });

describe('manifest.json, group commit by group commit', () => {
  it('is the text JSON.stringify writes for the manifest sorted by name, after inserts and replacements in any order', () => {
    const names = ['pkg_1.0_amd64.deb', 'a.deb', 'Z.deb', 'pkg_1.0_arm64.deb', 'ünïcode.deb', 'b-2.deb', 'b_1.deb', 'B.deb'];
    let m = new ManifestText({ release: 'v1.0.0', target: 'amd64-deb', files: [] });
    expect(m.toString()).toBe(JSON.stringify({ release: 'v1.0.0', target: 'amd64-deb', files: [] }, null, 2) + '\n');
    const all = new Map<string, IncomingEntry>();
    for (const [i, batch] of [[names[3], names[0]], [names[5]], [names[1], names[7], names[2]], [names[0]], [names[4], names[6]]].entries()) {
      const entries = batch.map((n) => entry(n!, i + 1)); // names[0] comes again: replaced
      for (const e of entries) all.set(e.name, e);
      const before = m.toString();
      const next = m.with(entries);
      expect(m.toString()).toBe(before); // the previous text is untouched
      m = next;
      const files = [...all.values()].sort((a, b) => a.name.localeCompare(b.name));
      expect(m.toString()).toBe(JSON.stringify({ release: 'v1.0.0', target: 'amd64-deb', files }, null, 2) + '\n');
      expect(m.manifest.files).toEqual(files);
    }
  });
});
