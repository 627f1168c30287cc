import { describe, expect, it } from 'vitest';
import { crateFromMetadata, needsPublishedDependency } from './cargo-manifest';
import { publishOrder } from './order';

describe('publishOrder', () => {
  it('puts a crate after the crates it depends on, whatever the order given', () => {
    const nodes = [
      { name: 'app', after: ['core', 'tools'] },
      { name: 'core', after: ['tools', 'serde'] },
      { name: 'tools', after: [] },
      { name: 'other', after: [] },
    ];
    expect(publishOrder(nodes).map((n) => n.name)).toEqual(['tools', 'core', 'app', 'other']);
    expect(publishOrder([...nodes].reverse()).map((n) => n.name)).toEqual(['other', 'tools', 'core', 'app']);
  });
  it('names the crates of a cycle', () => {
    expect(() => publishOrder([{ name: 'a', after: ['b'] }, { name: 'b', after: ['a'] }, { name: 'c', after: [] }])).toThrow('cycle: a, b');
  });
});

describe('crateFromMetadata', () => {
  const metadata = JSON.stringify({
    packages: [
      { name: 'other', version: '0.1.0', manifest_path: '/w/other/Cargo.toml', publish: null, dependencies: [] },
      {
        name: 'demo-core',
        version: '1.2.3',
        manifest_path: '/w/core/Cargo.toml',
        publish: null,
        dependencies: [
          { name: 'demo-tools', req: '^1.2.3', kind: null, registry: null, path: '/w/tools' },
          { name: 'demo-testkit', req: '*', kind: 'dev', registry: null, path: '/w/testkit' },
          { name: 'cc', req: '^1', kind: 'build' },
        ],
      },
    ],
  });
  it('picks the package of the manifest and its dependencies', () => {
    const c = crateFromMetadata(metadata, '/w/core/Cargo.toml');
    expect(c).toMatchObject({ name: 'demo-core', version: '1.2.3', publish: null });
    expect(c.dependencies.map((d) => [d.name, d.kind, needsPublishedDependency(d)])).toEqual([
      ['demo-tools', 'normal', true],
      ['demo-testkit', 'dev', false],
      ['cc', 'build', true],
    ]);
  });
  it('says when the directory is not a crate', () => {
    expect(() => crateFromMetadata(metadata, '/w/Cargo.toml')).toThrow(/no package with this manifest/);
  });
});
