'use strict';
// Runs one agent's commands on its wrapped bundle, in this process, the way the executable's main
// script (sea-main.cjs) runs it, then writes V8's code cache of everything those commands
// compiled. Run by scripts/lib/train.mjs under the node binary the executable is made of:
//   node train-run.cjs AGENT_JS OUT_CACHE PLAN_JSON
// PLAN_JSON: [{ "argv": [...], "exit": 0 }, ...]. Any other exit status fails the training.
const { readFileSync, writeFileSync } = require('node:fs');
const { isBuiltin } = require('node:module');
const { Script } = require('node:vm');

const [, , agentJs, out, planFile] = process.argv;
const plan = JSON.parse(readFileSync(planFile, 'utf8'));
const script = new Script(readFileSync(agentJs, 'latin1'), { filename: 'agent.js' });
// what the executable's main script can require: Node's builtins only
const seaRequire = (id) => {
  if (!isBuiltin(id)) throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  return require(id);
};
const exit = process.exit.bind(process);
setTimeout(() => {
  process.stderr.write('training: the commands did not finish within 120 s\n');
  exit(1);
}, 120_000).unref();

(async () => {
  for (const step of plan) {
    // each command evaluates the bundle afresh (its modules' state is its own); the compiled
    // functions belong to the script and accumulate in its code cache
    const code = await new Promise((resolve) => {
      process.exit = (c) => resolve(c ?? process.exitCode ?? 0);
      process.exitCode = undefined;
      process.argv = [process.execPath, agentJs, ...step.argv];
      const m = { exports: {} };
      script.runInThisContext()(m.exports, seaRequire, m, agentJs, __dirname);
    });
    if (code !== (step.exit ?? 0)) {
      process.stderr.write(`training: \`${step.argv.join(' ')}\` exited ${code}, expected ${step.exit ?? 0}\n`);
      exit(1);
    }
  }
  process.exit = exit;
  writeFileSync(out, script.createCachedData());
  exit(0);
})();
