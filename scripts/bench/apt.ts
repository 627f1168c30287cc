// Benchmark of issue 4: `orchestrator-agent repo publish` of 1000 .debs (~175 KiB, amd64/arm64/all)
// beside apt-ftparchive in the same run: (1) cold, the whole publish vs `apt-ftparchive packages`
// alone; (2) adding one package to the 1000 vs the classic pipeline with warm caches
// (apt-ftparchive --db per arch, gzip, xz, apt-ftparchive release, gpg --clearsign + detached);
// and, beside the cold rows, the durable pool copy the default mode makes, done by cp + sync alone.
// Run: npm run bench -- apt   (needs npm run build; apt-utils, gnupg, xz-utils from Debian)
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDeb } from '../../test/helpers/debs.ts';
import { agentArgv, fmtMiB, fmtS, machineLine, median, timed, writeSection } from './lib/report.mjs';

const N = 1000;
const PAYLOAD = 175 * 1024;
const RUNS = 3;
const work = mkdtempSync(join(tmpdir(), 'pkgfleet-bench-apt-'));
const oa = agentArgv('orchestrator-agent');
const ARCHES = ['amd64', 'arm64', 'all'];

try {
  console.log(`generating ${N} .debs of ~${PAYLOAD >> 10} KiB in ${work}`);
  const debs = join(work, 'debs');
  mkdirSync(debs);
  for (let i = 0; i < N; i++) {
    const arch = ARCHES[i % 3]!;
    await writeDeb(join(debs, `bench${i}_1.0-1_${arch}.deb`), {
      name: `bench${i}`, version: '1.0-1', arch, payload: PAYLOAD,
      description: `benchmark package ${i}\n A package of the publish benchmark, with a description of\n a few lines, like real packages have.`,
      depends: 'libc6 (>= 2.36)',
    });
  }
  const extras = Array.from({ length: RUNS }, (_, i) => join(work, 'extra', `extra${i}`));
  for (const [i, d] of extras.entries()) {
    mkdirSync(d, { recursive: true });
    await writeDeb(join(d, `benchextra${i}_1.0-1_amd64.deb`), { name: `benchextra${i}`, version: '1.0-1', arch: 'amd64', payload: PAYLOAD });
  }
  // inputs on disk before timing, as they are when they arrive (the incoming store fsyncs each file)
  execFileSync('sync');
  const key = join(work, 'signing.asc');
  await timed([...oa, 'keys', 'generate', '--name', 'bench', '--email', 'bench@example.com', '--out', key, '--state-dir', work]);

  // 1. cold publish vs apt-ftparchive packages alone (page cache warm for both: files just written)
  const cold: number[] = [];
  const coldRss: number[] = [];
  let root = '';
  for (let r = 0; r < RUNS; r++) {
    root = join(work, `repo${r}`);
    const t = await timed([...oa, 'repo', 'publish', '--state-dir', work, '--root', root, '--channel', 'stable', '--key', key, debs]);
    cold.push(t.seconds);
    coldRss.push(t.rssKiB ?? 0);
  }
  const coldLink: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    coldLink.push((await timed([...oa, 'repo', 'publish', '--state-dir', work, '--root', join(work, `repo-link${r}`), '--channel', 'stable', '--key', key, '--link', debs])).seconds);
  }
  const ftp: number[] = [];
  for (let r = 0; r < RUNS; r++) ftp.push((await timed(['bash', '-c', `apt-ftparchive packages ${debs} > ${join(work, 'ftp-Packages')}`])).seconds);
  // what the default (copying) mode adds to the job, done by the classic tools alone: a durable
  // copy of the same files (GNU cp, then syncfs on that file system); sync first, so that the
  // syncfs waits for this copy only
  const durableCopy: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    execFileSync('sync');
    const to = join(work, `cp${r}`);
    durableCopy.push((await timed(['bash', '-c', `cp -r ${debs} ${to} && sync -f ${to}`])).seconds);
  }

  execFileSync('sync'); // the cold runs' writes are not the add-one's to wait for
  // 2. add one package to the 1000: our CLI (only the new file is read) ...
  const addOne: number[] = [];
  for (const d of extras) addOne.push((await timed([...oa, 'repo', 'publish', '--state-dir', work, '--root', root, '--channel', 'stable', '--key', key, d])).seconds);

  // ... vs the classic pipeline with warm caches: apt-ftparchive's db already holds the 1000
  const classic = join(work, 'classic');
  const gnupg = join(work, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  execFileSync('gpg', ['--batch', '--homedir', gnupg, '--import', key], { stdio: 'ignore' });
  mkdirSync(join(classic, 'pool'), { recursive: true });
  cpSync(debs, join(classic, 'pool', 'main'), { recursive: true });
  const script = join(work, 'classic.sh');
  writeFileSync(script, `set -e
cd ${classic}
for a in amd64 arm64; do
  d=dists/stable/main/binary-$a; mkdir -p $d
  apt-ftparchive --db cache.db --arch $a packages pool > $d/Packages
  gzip -9nkf $d/Packages
  xz -6kf $d/Packages
done
apt-ftparchive -o APT::FTPArchive::Release::Origin=pkgfleet -o APT::FTPArchive::Release::Suite=stable release dists/stable > Release.tmp
mv Release.tmp dists/stable/Release
gpg --batch --yes --homedir ${gnupg} --digest-algo SHA512 --clearsign -o dists/stable/InRelease dists/stable/Release
gpg --batch --yes --homedir ${gnupg} --digest-algo SHA512 -abs -o dists/stable/Release.gpg dists/stable/Release
`);
  await timed(['bash', script]); // fills cache.db with the 1000
  const classicAdd: number[] = [];
  for (const [i, d] of extras.entries()) {
    cpSync(join(d, `benchextra${i}_1.0-1_amd64.deb`), join(classic, 'pool', 'main', `benchextra${i}_1.0-1_amd64.deb`));
    classicAdd.push((await timed(['bash', script])).seconds);
  }

  const rows = [
    ['cold: `orchestrator-agent repo publish` 1000 .debs (all indexes, gz+xz, Release, InRelease, Release.gpg, by-hash)', cold],
    ['cold, `--link` (pool files hard-linked to the inputs, not copied and fsynced again)', coldLink],
    ['cold: `apt-ftparchive packages` alone on the same 1000 files', ftp],
    ['the durable copy alone: `cp -r` of the 1000 files, then `sync -f` (what the default mode adds over `--link`)', durableCopy],
    ['add one: `orchestrator-agent repo publish` of 1 new .deb into the 1000', addOne],
    ['add one: classic pipeline, warm caches (`apt-ftparchive --db` per arch, gzip, xz, `apt-ftparchive release`, `gpg --clearsign`, `gpg -abs`)', classicAdd],
  ] as const;
  const table = rows.map(([what, xs]) => `| ${what} | ${fmtS(median(xs))} | ${xs.map((x) => x.toFixed(2)).join(', ')} |`).join('\n');
  const md = `## apt (issue 4): publish 1000 .debs

${machineLine()}. ${N} .debs of ${PAYLOAD >> 10} KiB payload (control.tar.gz, data.tar), a third each amd64, arm64, all,
made by \`writeDeb\` (test/helpers/debs.ts); agent: \`${oa.map((a) => a.replace(work, '$WORK').replace(process.cwd(), '.')).join(' ')}\`.
Median of ${RUNS} runs (each cold run into a fresh root; each add-one adds a different package).

| what | median | runs (s) |
|---|---|---|
${table}

Peak RSS of the cold publish: ${fmtMiB(median(coldRss))}. Load average when the run ended: ${loadavg().map((x) => x.toFixed(1)).join(', ')}
(other work on the same 2 cores slows every row; compare rows of the same run).
Cold with \`--link\` vs \`apt-ftparchive packages\`: ${(median(coldLink) / median(ftp)).toFixed(2)}×. The default mode copies every input
into the pool and fsyncs the copies before the tree goes live; \`apt-ftparchive packages\` writes nothing but the index. On this
machine that copy, made by \`cp\` and \`sync\` alone, takes ${fmtS(median(durableCopy))}. Default mode vs \`apt-ftparchive packages\` followed by that
copy: ${(median(cold) / (median(ftp) + median(durableCopy))).toFixed(2)}× (the target below is still against \`apt-ftparchive packages\` alone).
Targets (issue 4): cold no slower than \`apt-ftparchive packages\` alone: **${median(cold) <= median(ftp) ? 'met' : 'not met'}**
(${(median(cold) / median(ftp)).toFixed(2)}×); add one under 0.3 s: **${median(addOne) < 0.3 ? 'met' : 'not met'}**, and no slower than the classic
pipeline: **${median(addOne) <= median(classicAdd) ? 'met' : 'not met'}** (${(median(addOne) / median(classicAdd)).toFixed(2)}×).

Commands: \`orchestrator-agent repo publish --root ROOT --channel stable --key signing.asc DEBS_DIR\`;
\`apt-ftparchive packages DEBS_DIR > Packages\`; the classic pipeline is the shell script in scripts/bench/apt.ts.
`;
  console.log(md);
  writeSection('apt', md);
} finally {
  rmSync(work, { recursive: true, force: true });
}
