// The build's rewrite of `import { … } from '@pkgfleet/shared'` into imports of shared's own files
// (scripts/lib/bundle.mjs): what lets a command's lazily loaded modules skip the rest of shared.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleAgent, eagerModuleInits, rewriteSharedImports, ROOT, sharedBarrelMap } from '../scripts/lib/bundle.mjs';

const map = sharedBarrelMap();
const src = (f: string) => path.join(ROOT, 'packages', 'shared', 'src', f);

describe('sharedBarrelMap', () => {
  it('maps every name the barrel exports to the file that defines it, renames included', () => {
    expect(map.get('UsageError')).toEqual({ from: src('errors'), name: 'UsageError', typeOnly: false });
    expect(map.get('RpmTag')).toEqual({ from: src('formats/rpm/tags'), name: 'Tag', typeOnly: false });
    expect(map.get('Command')).toEqual({ from: 'commander', name: 'Command', typeOnly: false });
    expect(map.get('Signer')?.typeOnly).toBe(true);
    for (const { from } of map.values()) if (from.startsWith('/')) expect(existsSync(`${from}.ts`), from).toBe(true);
  });

  it('refuses a barrel it cannot read (export *), instead of bundling it wrong', () => {
    expect(() => sharedBarrelMap("export { a } from './a';\nexport * from './b';\n")).toThrow(/cannot read "export \* from '\.\/b'"/);
  });
});

describe('rewriteSharedImports', () => {
  it('imports each name from its own file, keeps local names, drops type-only imports', () => {
    const out = rewriteSharedImports(
      "import { contextFor, UsageError as UE, type Command } from '@pkgfleet/shared';\nimport type { Logger } from '@pkgfleet/shared';\nimport {\n  RpmTag,\n  Option,\n} from '@pkgfleet/shared';\nconst x = 1;\n",
      map,
    );
    expect(out).toBe(
      `import { contextFor } from ${JSON.stringify(src('cli/program'))}; import { UsageError as UE } from ${JSON.stringify(src('errors'))};\n\n` +
        `import { Tag as RpmTag } from ${JSON.stringify(src('formats/rpm/tags'))}; import { Option } from "commander";\nconst x = 1;\n`,
    );
  });

  it('leaves other imports alone and names the file for an unknown name', () => {
    const keep = "import { join } from 'node:path';\nimport { z } from 'zod';\n";
    expect(rewriteSharedImports(keep, map)).toBe(keep);
    expect(() => rewriteSharedImports("import { nope } from '@pkgfleet/shared';", map, 'packages/x/src/a.ts')).toThrow('packages/x/src/a.ts: @pkgfleet/shared has no export named nope');
  });

  it('leaves the barrel out of the agents\' bundles, and ws and openpgp out of start-up', async () => {
    const r = await bundleAgent('orchestrator-agent', path.join(ROOT, '.cache', 'test-bundle', 'orchestrator-agent.cjs'), { write: false, metafile: true });
    const inputs = Object.keys(r.metafile!.inputs);
    expect(inputs).toContain('packages/shared/src/cli/program.ts');
    expect(inputs).not.toContain('packages/shared/src/index.ts');
    const text = r.code;
    // Start-up runs the bundle's top level: there, only commander and the small modules the
    // command definitions use initialize (ws, yaml, zod, openpgp do when an action imports them).
    const lines = text.split('\n');
    const required = new Set(lines.flatMap((l) => /^var import_\w+ = __toESM\(require_(\w+)\(/.exec(l)?.[1] ?? []));
    const inits = new Set(lines.flatMap((l) => /^init_(\w+)\(\);$/.exec(l)?.[1] ?? []));
    expect([...required]).toEqual(['commander']);
    expect(inits).toContain('program');
    for (const m of inits) expect(['program', 'errors', 'duration', 'names', 'progress', 'logger', 'version']).toContain(m);
  });
});

describe('eagerModuleInits', () => {
  const wrapped = [
    'var init_a = __esm({',
    '  "packages/a.ts"() {',
    '    x = () => {',
    '    };',
    '  }',
    '});',
    'var require_b = __commonJS({',
    '  "node_modules/b/index.js"(exports, module) {',
    '    module.exports = `',
    '  }',
    '`;',
    '  }',
    '});',
    'init_a();',
  ];

  it('turns each module wrapper into a parenthesized function (compiled eagerly), nothing else', () => {
    const out = eagerModuleInits(wrapped.join('\n')).split('\n');
    expect(out).toEqual([
      'var init_a = __esm({', '  "packages/a.ts": (function () {', '    x = () => {', '    };', '  })', '});',
      'var require_b = __commonJS({', '  "node_modules/b/index.js": (function (exports, module) {', '    module.exports = `', '  }', '`;', '  })', '});',
      'init_a();',
    ]);
  });

  it('fails the build on a wrapper of another shape instead of guessing', () => {
    expect(() => eagerModuleInits(['var init_a = __esm({', '  async "a.ts"() {', '  }', '});'].join('\n'), 'x.cjs')).toThrow('x.cjs:2: a module wrapper not in the expected shape');
    expect(() => eagerModuleInits('var init_a = __esm({ "a.ts"() {} });')).toThrow('1 module wrapper(s) not on a line of their own');
  });
});
