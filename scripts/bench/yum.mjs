// Benchmark of issue 5: `orchestrator-agent repo publish` of 1000 rpms (~180 KiB, x86_64/aarch64/
// noarch) beside the pipeline it replaces, `rpmsign --addsign` + `createrepo_c` (+ gpg for
// repomd.xml.asc), all in one run, cold and adding one package.
// Run: npm run bench -- yum   (needs npm run build; rpmsign, createrepo_c, gpg from Debian)
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { build } from 'esbuild';
import { agentArgv, fmtMiB, fmtS, machineLine, median, timed, writeSection, ROOT } from './lib/report.mjs';

const COUNT = Number(process.env.YUM_BENCH_COUNT ?? 1000);
const work = mkdtempSync(join(tmpdir(), 'pkgfleet-bench-yum-'));
const node = process.execPath;
// YUM_BENCH_ORCH=FILE.cjs runs that bundle instead of the built executable (while developing)
const orch = process.env.YUM_BENCH_ORCH ? [node, process.env.YUM_BENCH_ORCH] : agentArgv('orchestrator-agent');

// the generator and the repodata-only tool import the sources of @pkgfleet/shared: bundle them.
// Those sources do nothing when imported, so the modules the tools do not use are left out
// (otherwise the repodata tool would start by loading commander, zod, ws… from node_modules).
const SHARED_SRC = join(ROOT, 'packages/shared/src') + '/';
const pureShared = {
  name: 'pure-shared',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.pureShared) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { pureShared: true } });
      return r.errors.length === 0 && r.path.startsWith(SHARED_SRC) ? { ...r, sideEffects: false } : undefined;
    });
  },
};
const tools = join(ROOT, '.cache', 'bench', 'yum-tools.mjs');
await build({
  entryPoints: ['yum-tools', 'yum-repodata-worker'].map((n) => join(ROOT, `scripts/bench/lib/${n}.ts`)), outdir: join(ROOT, '.cache', 'bench'), outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', format: 'esm',
  packages: 'external', alias: { '@pkgfleet/shared': join(ROOT, 'packages/shared/src/index.ts') }, plugins: [pureShared], logLevel: 'warning',
});

const gnupg = join(work, 'gnupg');
const env = { PKGFLEET_CONFIG: join(work, 'config.json'), PKGFLEET_REPO_BASE_URL: 'https://packages.example.invalid' };
const rpmsignEnv = { GNUPGHOME: gnupg, HOME: gnupg };
const rpmArch = (f) => f.replace(/\.rpm$/, '').split('.').pop();
/** Wall time of the process, and the time it measured itself (without process start). */
const inner = (r) => JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).ms / 1000;
const both = (r) => `${fmtS(r.seconds)} (${fmtS(inner(r))} in-process)`;
const versus = (ours, classic) => (classic >= ours ? `${(classic / ours).toFixed(1)}× faster` : `${(ours / classic).toFixed(1)}× slower`);

function layout(from, to) {
  // the classic layout: one createrepo_c directory per arch, noarch linked into each
  for (const a of ['x86_64', 'aarch64']) mkdirSync(join(to, a), { recursive: true });
  for (const f of readdirSync(from).filter((x) => x.endsWith('.rpm'))) {
    const arch = rpmArch(f);
    for (const a of arch === 'noarch' ? ['x86_64', 'aarch64'] : [arch]) linkSync(join(from, f), join(to, a, f));
  }
}

async function classicCold(name, gpgId, input) {
  const all = join(work, `classic-${name}`, 'all');
  mkdirSync(all, { recursive: true });
  for (const f of readdirSync(input)) linkSync(join(input, f), join(all, f)); // rpmsign replaces files by rename
  const files = readdirSync(all).map((f) => join(all, f));
  const sign = await timed(['rpmsign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${gpgId}`, '--addsign', ...files], { env: rpmsignEnv });
  const t0 = performance.now();
  const repo = join(work, `classic-${name}`, 'repo');
  layout(all, repo);
  const linkS = (performance.now() - t0) / 1000;
  let cr = 0;
  let gpgS = 0;
  let rss = 0;
  for (const a of ['x86_64', 'aarch64']) {
    const r = await timed(['createrepo_c', '--no-database', '--quiet', join(repo, a)]);
    cr += r.seconds;
    rss = Math.max(rss, r.rssKiB ?? 0);
    gpgS += (await timed(['gpg', '--batch', '--yes', '--local-user', gpgId, '--armor', '--detach-sign', join(repo, a, 'repodata/repomd.xml')], { env: rpmsignEnv })).seconds;
  }
  return { sign: sign.seconds, createrepo: cr, gpg: gpgS, link: linkS, total: sign.seconds + cr + gpgS + linkS, repo, signRss: sign.rssKiB, crRss: rss };
}

async function main() {
  writeFileSync(env.PKGFLEET_CONFIG, '{}');
  const input = join(work, 'in');
  const gen = await timed([node, tools, 'generate', input, String(COUNT)]);
  const bytes = readdirSync(input).length;
  const adds = join(work, 'add');
  await timed([node, tools, 'generate', adds, '3', 'added', '2.0']);
  console.log(`generated ${bytes} rpms in ${fmtS(gen.seconds)}`);

  // keys: ours (openpgp.js) and gpg's for rpmsign, Ed25519 and RSA-4096 each
  const keys = {};
  for (const algo of ['ed25519', 'rsa4096']) {
    keys[algo] = join(work, `${algo}.asc`);
    await timed([...orch, 'keys', 'generate', '--name', `bench ${algo}`, '--email', `${algo}@bench.invalid`, '--algo', algo, '--out', keys[algo]], { env });
  }
  mkdirSync(gnupg, { mode: 0o700 });
  for (const [algo, spec] of [['ed25519', 'ed25519'], ['rsa4096', 'rsa4096']]) {
    execFileSync('gpg', ['--homedir', gnupg, '--batch', '--passphrase', '', '--quick-gen-key', `gpg ${algo} <gpg-${algo}@bench.invalid>`, spec, 'sign', 'never'], { stdio: 'ignore' });
  }

  const rows = [];
  const res = {};
  for (const algo of ['ed25519', 'rsa4096']) {
    const root = join(work, `ours-${algo}`);
    const ours = await timed([...orch, '--log-format', 'json', 'repo', 'publish', '--json', '--root', root, '--channel', 'stable', '--key', keys[algo], input], { env: { ...env, PKGFLEET_DEBUG: '1' } });
    // the publish logs how long signing (read, sign, write, hash) and the repodata step took
    const phases = JSON.parse(ours.stderr.split('\n').find((l) => l.includes('"yum channel written"')) ?? '{}');
    const classic = await classicCold(algo, `gpg-${algo}@bench.invalid`, input);
    res[algo] = { ours, classic, root, phases };
    rows.push(`| cold, ${algo === 'ed25519' ? 'Ed25519' : 'RSA-4096'} | ${both(ours)}, peak RSS ${fmtMiB(ours.rssKiB)} | ${fmtS(classic.total)} = rpmsign ${fmtS(classic.sign)} (${(classic.sign / COUNT * 1000).toFixed(1)} ms/rpm) + createrepo_c ×2 ${fmtS(classic.createrepo)} + gpg ×2 ${fmtS(classic.gpg)} | ${versus(ours.seconds, classic.total)} |`);
    console.log(rows.at(-1));
  }

  // repodata alone, from the same signed rpms (createrepo_c's job), both warm
  const signedAll = join(work, 'classic-ed25519', 'all');
  const rdCr = join(work, 'rd-createrepo');
  const rdOurs = join(work, 'rd-ours');
  layout(signedAll, rdCr);
  layout(signedAll, rdOurs);
  // createrepo_c's job only: neither side signs repomd.xml (the pipelines above both do). Three
  // runs each, alternating, into fresh repodata/; the medians are compared. First let the
  // writeback of the GBs the pipelines above wrote finish (it takes CPU from both sides).
  execFileSync('sync');
  await new Promise((r) => setTimeout(r, 2000));
  const crRuns = [];
  const oursRuns = [];
  for (let r = 0; r < 3; r++) {
    for (const d of [rdCr, rdOurs]) for (const a of ['x86_64', 'aarch64']) rmSync(join(d, a, 'repodata'), { recursive: true, force: true });
    let cr = 0;
    for (const a of ['x86_64', 'aarch64']) cr += (await timed(['createrepo_c', '--no-database', '--quiet', join(rdCr, a)])).seconds;
    crRuns.push(cr);
    oursRuns.push(await timed([node, tools, 'repodata', join(rdOurs, 'x86_64'), join(rdOurs, 'aarch64')]));
  }
  // both made the same packages' metadata: same count in every primary
  const packagesIn = (repo) => {
    const dir = join(repo, 'repodata');
    const primary = readdirSync(dir).find((f) => f.endsWith('primary.xml.gz'));
    return gunzipSync(readFileSync(join(dir, primary))).toString().match(/<package type="rpm">/g)?.length ?? 0;
  };
  for (const a of ['x86_64', 'aarch64']) {
    const [ours, theirs] = [packagesIn(join(rdOurs, a)), packagesIn(join(rdCr, a))];
    if (ours !== theirs || theirs === 0) throw new Error(`repodata only, ${a}: ${ours} packages in our primary, ${theirs} in createrepo_c's`);
  }
  const crAlone = median(crRuns);
  // the run whose time is the median (its RSS and in-process time are reported with it)
  const oursAlone = oursRuns.find((r) => r.seconds === median(oursRuns.map((x) => x.seconds)));
  rows.push(`| repodata step of the cold Ed25519 publish (the rpms were read and hashed while signing: ${fmtS(res.ed25519.phases.signMs / 1000)}) | ${fmtS(res.ed25519.phases.repodataMs / 1000)} | createrepo_c ×2 ${fmtS(res.ed25519.classic.createrepo)} | ${(res.ed25519.phases.repodataMs / 1000 / res.ed25519.classic.createrepo).toFixed(2)}× createrepo_c's time |`);
  rows.push(`| repodata only, standalone, createrepo_c's job (read + checksum the signed rpms, 2 arch repos, repomd.xml; no signature on either side), median of 3 | ${both(oursAlone)}, peak RSS ${fmtMiB(oursAlone.rssKiB)}; runs ${oursRuns.map((r) => fmtS(r.seconds)).join(', ')} | createrepo_c ×2 ${fmtS(crAlone)}; runs ${crRuns.map(fmtS).join(', ')} | ${(oursAlone.seconds / crAlone).toFixed(2)}× (in-process ${(inner(oursAlone) / crAlone).toFixed(2)}×) createrepo_c's time |`);
  console.log(rows.at(-1));

  // add one package to the cold repository (Ed25519)
  const addRows = [];
  let worstAdd = 0;
  let worstAddInner = 0;
  const startup = [];
  for (let i = 0; i < 3; i++) startup.push((await timed([...orch, '--version'])).seconds);
  startup.sort((a, b) => a - b);
  let addWins = 0;
  const classicRepo = res.ed25519.classic.repo;
  for (const f of readdirSync(adds).sort()) {
    const ours = await timed([...orch, '--log-format', 'json', 'repo', 'publish', '--json', '--root', res.ed25519.root, '--channel', 'stable', '--key', keys.ed25519, join(adds, f)], { env });
    const copy = join(work, `add-${f}`);
    linkSync(join(adds, f), copy);
    const sign = await timed(['rpmsign', '--define', '__gpg /usr/bin/gpg', '--define', '_gpg_name gpg-ed25519@bench.invalid', '--addsign', copy], { env: rpmsignEnv });
    const arch = rpmArch(f);
    let cr = 0;
    let gpgS = 0;
    for (const a of arch === 'noarch' ? ['x86_64', 'aarch64'] : [arch]) {
      linkSync(copy, join(classicRepo, a, f));
      cr += (await timed(['createrepo_c', '--update', '--no-database', '--quiet', join(classicRepo, a)])).seconds;
      gpgS += (await timed(['gpg', '--batch', '--yes', '--local-user', 'gpg-ed25519@bench.invalid', '--armor', '--detach-sign', join(classicRepo, a, 'repodata/repomd.xml')], { env: rpmsignEnv })).seconds;
    }
    const total = sign.seconds + cr + gpgS;
    worstAdd = Math.max(worstAdd, ours.seconds);
    worstAddInner = Math.max(worstAddInner, inner(ours));
    if (ours.seconds < total) addWins++;
    addRows.push(`| add one ${arch} rpm to ${COUNT} | ${both(ours)} | ${fmtS(total)} = rpmsign ${fmtS(sign.seconds)} + createrepo_c --update ${fmtS(cr)}${arch === 'noarch' ? ' (2 repos)' : ''} + gpg ${fmtS(gpgS)} | ${versus(ours.seconds, total)} (in-process: ${versus(inner(ours), total)}) |`);
    console.log(addRows.at(-1));
  }

  const ed = res.ed25519;
  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
  const md = `## yum: sign + repodata (issue 5)

${machineLine()}, load average at the end ${load}. ${COUNT} generated rpms of ~180 KiB (${Math.round(COUNT / 3)} each x86_64, aarch64, noarch; one 174 KiB
binary, 12 docs, one /etc file, gzip payload; \`scripts/bench/lib/yum-tools.ts generate\`), on the same disk. Ours is the
whole \`orchestrator-agent repo publish\` (${orch.map((p) => p.replace(ROOT + '/', '')).join(' ')}), process start included:
read the headers, sign every rpm (header-only OpenPGP signature, payload copied), write x86_64 and aarch64 repositories
(noarch in both, hard-linked), primary/filelists/other .xml.gz, repomd.xml + .asc, .repo files, fsync, switch the tree.
The classic pipeline: \`rpmsign --addsign\` of all files in one call (\`--define '__gpg /usr/bin/gpg'\`, a gpg key of the
same algorithm), the two arch directories linked, \`createrepo_c --no-database\` on each and \`gpg --armor --detach-sign\`
of each repomd.xml. The machine is shared with other jobs: compare figures within a row, not across runs.

| case | \`repo publish\` (peak RSS) | classic pipeline | |
|---|---|---|---|
${rows.join('\n')}
${addRows.join('\n')}

Targets: cold faster than the classic pipeline (${ed.ours.seconds < ed.classic.total && res.rsa4096.ours.seconds < res.rsa4096.classic.total ? 'met' : 'NOT met'});
repodata alone within 1.5× of createrepo_c (the publish's repodata step: ${res.ed25519.phases.repodataMs / 1000 <= 1.5 * res.ed25519.classic.createrepo ? 'met' : 'NOT met'};
the standalone tool, which also reads and hashes every rpm, on one worker thread per core as createrepo_c uses several: wall
${oursAlone.seconds <= 1.5 * crAlone ? 'met' : 'NOT met'}, in-process ${inner(oursAlone) <= 1.5 * crAlone ? 'met' : 'NOT met'}); add one under 0.3 s wall and faster than rpmsign + createrepo_c --update
(${worstAdd < 0.3 && addWins === addRows.length ? 'met' : `wall: ${addWins}/${addRows.length} faster, worst ${fmtS(worstAdd)}`}; in-process worst
${fmtS(worstAddInner)}). Process start alone (\`orchestrator-agent --version\`, median of 3): ${fmtS(startup[1])}.

Commands: \`orchestrator-agent repo publish --root R --channel stable --key K DIR\` (cold) and \`… FILE\` (add one);
\`rpmsign --define '__gpg /usr/bin/gpg' --define '_gpg_name ID' --addsign FILES…\`; \`createrepo_c --no-database DIR\`;
\`createrepo_c --update --no-database DIR\`; \`gpg --armor --detach-sign repodata/repomd.xml\`;
\`node .cache/bench/yum-tools.mjs repodata DIR…\` (repodata only).`;
  writeSection('yum', md);
  console.log(md);
}

try {
  await main();
} finally {
  try {
    execFileSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent'], { stdio: 'ignore' });
  } catch {
    // no agent was started
  }
  rmSync(work, { recursive: true, force: true });
}
