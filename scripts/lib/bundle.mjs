// How an agent's TypeScript becomes one CommonJS file that Node's single-executable
// support (SEA) can run: no imports outside the file, only Node builtins at run time.
// Shared by scripts/build.mjs and test/helpers/agents.ts so that tests run the same bundle
// that ships.
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
    define: { 'import.meta.url': '__import_meta_url' },
    absWorkingDir: ROOT,
    logLevel: 'silent',
    legalComments: 'none',
    sourcemap: false,
  };
}
