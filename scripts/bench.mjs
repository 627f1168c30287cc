#!/usr/bin/env node
// `npm run bench [-- NAME...]`: run the benchmarks in scripts/bench/ one after another (they
// share two cores: never in parallel), each rewriting its own section of docs/BENCHMARKS.md.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'bench');
const all = readdirSync(dir).filter((f) => /\.(mjs|ts)$/.test(f)).sort();
const wanted = process.argv.slice(2);
const pick = wanted.length ? all.filter((f) => wanted.includes(f.replace(/\.(mjs|ts)$/, ''))) : all;
if (wanted.length && pick.length !== wanted.length) {
  console.error(`unknown benchmark; known: ${all.map((f) => f.replace(/\.(mjs|ts)$/, '')).join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const f of pick) {
  console.log(`\n=== bench ${f}`);
  const r = spawnSync(process.execPath, [path.join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${f} failed (exit ${r.status})`);
  }
}
process.exit(failed ? 1 : 0);
