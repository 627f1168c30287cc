// Benchmark of issue 6 (section "repo"): swap latency of the repo-agent for a 10-package and a
// 5000-package snapshot (it must not grow with size), plus local deploys (first, same tree again,
// one package changed) through the same receive path as a network deploy. The rsync comparison of
// a network deploy is measured with the deploy transport.
// Run: npm run bench -- repo   (the CLI rows need npm run build)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { agentArgv, machineLine, timed, writeSection, ROOT } from './lib/report.mjs';

const work = mkdtempSync(join(tmpdir(), 'pkgfleet-bench-repo-'));
writeFileSync(join(work, 'none.json'), '{}');
const tools = join(ROOT, '.cache', 'bench', 'repo-tools.mjs');
buildSync({
  entryPoints: [join(ROOT, 'scripts/bench/lib/repo-tools.ts')], outfile: tools, bundle: true, platform: 'node', format: 'esm',
  packages: 'external', alias: { '@pkgfleet/shared': join(ROOT, 'packages/shared/src/index.ts') }, logLevel: 'warning',
});

const SIZES = [10, 5000];
try {
  const r = spawnSync(process.execPath, [tools, work, ...SIZES.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`repo-tools failed: ${r.stderr}`);
  const results = JSON.parse(r.stdout);

  // End to end through the CLI: `repo-agent activate ID` (process start included).
  let repoAgent;
  try {
    repoAgent = agentArgv('repo-agent');
  } catch {
    repoAgent = undefined;
  }
  for (const res of results) {
    if (!repoAgent) continue;
    const walls = [];
    for (let i = 0; i < 6; i++) {
      const t = await timed([...repoAgent, 'activate', res.ids[i % 2], '--state-dir', res.stateDir, '--log-format', 'json'], { env: { PKGFLEET_CONFIG: join(work, 'none.json') }, allowFail: false });
      walls.push(t.seconds * 1000);
    }
    walls.sort((a, b) => a - b);
    res.cliMs = walls[Math.floor(walls.length / 2)];
  }

  const f = (x) => (x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(1) : x.toFixed(0));
  const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const rows = results.map((x) =>
    `| ${x.packages} packages (${x.files} files, ${mib(x.bytes)}) | ${f(x.swapMs.median)} ms (p95 ${f(x.swapMs.p95)}, max ${f(x.swapMs.max)}) | ${f(x.activateMs.median)} ms (p95 ${f(x.activateMs.p95)}) | ${x.cliMs === undefined ? 'not built' : `${f(x.cliMs)} ms`} |`,
  );
  const deploys = results.map((x) =>
    `| ${x.packages} packages | ${f(x.first.ms)} ms, ${mib(x.first.received)} received | ${f(x.same.ms)} ms, ${x.same.received} B received, ${x.same.linked} linked | ${f(x.onePackage.ms)} ms, ${x.onePackage.files} files / ${kib(x.onePackage.received)} received, ${x.onePackage.linked} linked |`,
  );
  const small = results[0].swapMs.median;
  const large = results[results.length - 1].swapMs.median;
  writeSection('repo', `## repo server: swap latency and local deploys (issue 6)

${machineLine()}, load average ${loadavg()[0].toFixed(1)} at the end (the machine is shared: compare within a row). Signed test trees from \`test/helpers/signed-repo.ts\` (apt pool + Packages/by-hash/InRelease/Release.gpg,
yum rpms + hash-named primary + repomd.xml.asc; 4 KiB placeholder packages, one .deb and one .rpm per package), deployed
into a \`DirStore\` on the same disk by \`scripts/bench/lib/repo-tools.ts\` (in-process), 200 alternating swaps per size.
*swap* is \`DirStore.activate\`: new symlink, rename over \`current\`, fsync of the directory. *activate* adds taking
and releasing the store lock and reading the snapshot record (what \`repo-agent activate\`/\`rollback\` do).
*CLI* is \`repo-agent activate ID\` wall time, median of 6, process start included.

| snapshot | swap (median) | activate (median) | CLI |
|---|---|---|---|
${rows.join('\n')}

Swap latency for ${results[results.length - 1].packages} packages vs ${results[0].packages}: ${f(large)} ms vs ${f(small)} ms (target: must not grow with size).

Local deploys (\`deployFromDirectory\`: scan + hash the source tree, lacking list, tar stream of what is lacking, write
and hash-check it, hard-link the rest, verify the signatures and the signed index hashes, fsync, rename, swap):

| tree | first deploy | same tree again | one package changed |
|---|---|---|---|
${deploys.join('\n')}

The comparison with \`rsync -a\` over ssh needs the network deploy (\`orchestrator-agent deploy\`); see the handoff and deploy sections.`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
