// How an agent's TypeScript becomes one CommonJS file that Node's single-executable
// support (SEA) can run: no imports outside the file, only Node builtins at run time.
// Shared by scripts/build.mjs and test/helpers/agents.ts so that tests run the same bundle
// that ships.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENTS = ['build-agent', 'orchestrator-agent', 'repo-agent'];

/**
 * esbuild options for one agent. openpgp ships an ESM build that calls
 * createRequire(import.meta.url); a CJS bundle has no import.meta, so the banner defines the
 * file's URL and `define` points import.meta.url at it. ssh2's optional native parts
 * (cpu-features, sshcrypto.node) stay external: the require fails inside a try and ssh2
 * falls back to pure JS, which is what runs in the executable (native addons cannot load there).
 */
export function bundleOptions(agent, outfile) {
  return {
    plugins: [sharedBarrelPlugin()],
    // ws tries the optional native addons bufferutil and utf-8-validate on load; neither is
    // installed and a native addon cannot load in the executable, so the require only throws
    // (on every start). These tell ws to use its JS code directly, which it did anyway.
    define: { 'import.meta.url': '__import_meta_url', 'process.env.WS_NO_BUFFER_UTIL': '"1"', 'process.env.WS_NO_UTF_8_VALIDATE': '"1"' },
    entryPoints: [path.join(ROOT, 'packages', agent, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    external: ['cpu-features', '*.node'],
    // WebAssembly imported by path (liblzma for xz) is embedded as bytes: the executable has no node_modules
    loader: { '.wasm': 'binary' },
    banner: { js: 'const __import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    absWorkingDir: ROOT,
    logLevel: 'silent',
    legalComments: 'none',
    sourcemap: false,
  };
}

/**
 * Bundle `agent`: the text of `outfile`, written there unless `write` is false (esbuild.build:
 * the plugin below needs the asynchronous API). `metafile` too if asked.
 */
export async function bundleAgent(agent, outfile, { write = true, metafile = false } = {}) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({ ...bundleOptions(agent, outfile), write: false, metafile });
  const code = eagerModuleInits(result.outputFiles[0].text, outfile);
  if (write) {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(path.dirname(outfile), { recursive: true });
    await writeFile(outfile, code);
  }
  return { code, metafile: result.metafile };
}

const MODULE_WRAPPER = /^var \w+ = __(?:esm|commonJS)\(\{$/;
const MODULE_BODY = /^ {2}("(?:[^"\\]|\\.)*")\(([\w, ]*)\) \{$/;

/**
 * Each module esbuild wraps (`var init_x = __esm({ "file"() { … } })`, or `__commonJS` for a
 * CommonJS package) runs its top level inside a method, which V8 compiles lazily: a code cache
 * made from a compile only has no bytecode for it, and one trained on some commands
 * (scripts/lib/train.mjs) only for the modules those commands initialized. Written as a
 * parenthesized function instead (`"file": (function () { … })`), V8 compiles it eagerly and
 * the code cache holds it whichever command initializes the module, as it did when our modules
 * ran at the bundle's top level (and now for the CommonJS packages too: ws, yaml, tar-stream);
 * the functions inside stay lazy. Called the same way (`(0, fn[name])(…)`), so `this` and
 * the arguments are the same. The build fails if a wrapper is not in the shape expected.
 */
export function eagerModuleInits(code, file = '<bundle>') {
  const lines = code.split('\n');
  let wrappers = 0;
  for (let i = 1; i < lines.length; i++) {
    if (!MODULE_WRAPPER.test(lines[i - 1])) continue;
    wrappers++;
    const m = MODULE_BODY.exec(lines[i]);
    if (!m) throw new Error(`${file}:${i + 1}: a module wrapper not in the expected shape: ${lines[i].slice(0, 100)}`);
    let j = i + 1;
    while (j + 1 < lines.length && !(lines[j] === '  }' && lines[j + 1] === '});')) j++;
    if (j + 1 >= lines.length) throw new Error(`${file}:${i + 1}: no end for the module wrapper of ${m[1]}`);
    lines[i] = `  ${m[1]}: (function (${m[2]}) {`;
    lines[j] = '  })';
    i = j + 1;
  }
  const all = (code.match(/\b__(?:esm|commonJS)\(\{/g) ?? []).length;
  if (wrappers !== all) throw new Error(`${file}: ${all - wrappers} module wrapper(s) not on a line of their own`);
  return lines.join('\n');
}

/**
 * The same, synchronously, for callers that cannot wait (test/helpers/agents.ts): esbuild's
 * buildSync takes no plugins, so a child Node runs bundleAgent and this waits for it.
 */
export function bundleAgentSync(agent, outfile) {
  const script = `import(${JSON.stringify(import.meta.url)}).then((m) => m.bundleAgent(process.argv[1], process.argv[2])).catch((e) => { console.error(e.errors?.[0] ? \`\${e.errors[0].location?.file ?? ''}:\${e.errors[0].location?.line ?? ''}: \${e.errors[0].text}\` : e.message); process.exit(1); });`;
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', script, agent, outfile], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    throw new Error(`esbuild: ${(e.stderr || e.message).trim()}`, { cause: e });
  }
}

const SHARED_SRC = path.join(ROOT, 'packages', 'shared', 'src');
const SHARED_INDEX = path.join(SHARED_SRC, 'index.ts');

/**
 * Where each name the @pkgfleet/shared barrel exports comes from: name -> { from, name }, read
 * from packages/shared/src/index.ts (which lists its exports by name, no `export *`).
 */
export function sharedBarrelMap(source = readFileSync(SHARED_INDEX, 'utf8')) {
  const map = new Map();
  const statements = source.split(';').map((s) => s.trim()).filter(Boolean);
  for (const st of statements) {
    const m = /^export\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'$/.exec(st);
    if (!m) throw new Error(`packages/shared/src/index.ts: cannot read "${st.slice(0, 80)}": the barrel must only re-export names, one \`export { ... } from '...'\` per statement`);
    const from = m[3].startsWith('.') ? path.join(SHARED_SRC, m[3]) : m[3];
    for (const spec of m[2].split(',').map((s) => s.trim()).filter(Boolean)) {
      const [name, alias] = spec.split(/\s+as\s+/);
      map.set(alias ?? name, { from, name, typeOnly: !!m[1] });
    }
  }
  return map;
}

const SHARED_IMPORT = /\bimport\s+(type\s+)?\{([^}]*)\}\s*from\s*'@pkgfleet\/shared';?/g;

/**
 * Rewrite `import { a, b } from '@pkgfleet/shared'` in one file into imports from the files of
 * shared that define a and b. What it buys: no module imports the barrel, so a command module
 * loaded lazily (import() in its action) brings in only the parts of shared it uses. Through
 * the barrel, esbuild would wrap it and its init would run every module of shared (zod
 * schemas, ws, tls, yaml, openpgp) on first use, which is what start-up paid before.
 * The barrel's modules only define things at top level, so skipping the unused ones
 * changes nothing a program does.
 */
export function rewriteSharedImports(source, map, file = '<input>') {
  return source.replace(SHARED_IMPORT, (whole, typeAll, specs) => {
    if (typeAll) return '';
    const byFile = new Map();
    for (const raw of specs.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (/^type\s/.test(raw)) continue;
      const [name, local] = raw.split(/\s+as\s+/);
      const where = map.get(name);
      if (!where) throw new Error(`${file}: @pkgfleet/shared has no export named ${name}`);
      if (where.typeOnly) throw new Error(`${file}: ${name} is a type; import it with \`type ${name}\``);
      const list = byFile.get(where.from) ?? [];
      list.push(where.name === (local ?? name) ? where.name : `${where.name} as ${local ?? name}`);
      byFile.set(where.from, list);
    }
    return [...byFile].map(([from, names]) => `import { ${names.join(', ')} } from ${JSON.stringify(from)};`).join(' ');
  });
}

function sharedBarrelPlugin() {
  return {
    name: 'pkgfleet-shared-barrel',
    setup(build) {
      const map = sharedBarrelMap();
      build.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('@pkgfleet/shared')) return undefined;
        return { contents: rewriteSharedImports(source, map, path.relative(ROOT, args.path)), loader: 'ts' };
      });
    },
  };
}
