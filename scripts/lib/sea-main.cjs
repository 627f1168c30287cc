'use strict';
// The main script of every executable (scripts/lib/sea.mjs). The agent's bundle travels as the
// asset `agent.js`, wrapped in a CommonJS function, with `agent.cache`: V8's code cache made at
// build time by running the agent's common commands (scripts/lib/train.mjs), so that a command
// starts without compiling the functions it runs. Node's own `useCodeCache` caches only what a
// compile without running finds. No cache (arm64 executables), or one V8 refuses (other V8 flags
// through NODE_OPTIONS), only means the bundle is compiled as it runs.
const sea = require('node:sea');
const { Script } = require('node:vm');

// the bundle is ASCII (esbuild's default charset): latin1 is its exact decoding, and the fastest
const source = Buffer.from(sea.getRawAsset('agent.js')).toString('latin1');
let cachedData;
try {
  cachedData = Buffer.from(sea.getRawAsset('agent.cache'));
} catch {
  // built without one
}
const script = new Script(source, { filename: 'agent.js', cachedData });
if (process.env.PKGFLEET_CODE_CACHE_REPORT) {
  process.stderr.write(`code cache: ${cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);
}
script.runInThisContext()(exports, require, module, __filename, __dirname);
