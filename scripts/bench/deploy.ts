// Benchmark of issue 6: deploying a 1000-package repository to the repo server, first time and after
// adding one package, beside `rsync -a -e ssh` (the tool it replaces) to a local OpenSSH server, in
// the same run: seconds and bytes on the wire.
// Run: npm run bench -- deploy   (needs npm run build; openssh-server, rsync, dpkg-dev from Debian; root)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDeb } from '../../test/helpers/debs.ts';
import { startSshd } from '../../test/helpers/sshd.ts';
import { freePort } from '../../test/helpers/net.ts';
import { agentArgv, fmtS, machineLine, timed, writeSection } from './lib/report.mjs';

const N = 1000;
const PAYLOAD = 175 * 1024;
const work = mkdtempSync(join(tmpdir(), 'pkgfleet-bench-deploy-'));
const oa = agentArgv('orchestrator-agent');
const ra = agentArgv('repo-agent');
const children: ChildProcess[] = [];
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** "12.3 MiB on the wire" from the deploy summary, in bytes. */
function wireBytes(stdout: string): number {
  const m = /\(([\d.]+) (B|KiB|MiB|GiB) on the wire\)/.exec(stdout);
  if (!m) throw new Error(`no byte count in: ${stdout}`);
  return Number(m[1]) * { B: 1, KiB: 1024, MiB: 2 ** 20, GiB: 2 ** 30 }[m[2] as 'B'];
}
/** rsync --stats: "Total bytes sent: 1,234". */
function rsyncBytes(stdout: string): number {
  const m = /Total bytes sent: ([\d,.]+)/.exec(stdout);
  if (!m) throw new Error(`no byte count in rsync output: ${stdout}`);
  return Number(m[1]!.replace(/[,.]/g, ''));
}
try {
  console.log(`generating ${N} .debs of ~${PAYLOAD >> 10} KiB in ${work}`);
  const debs = join(work, 'debs');
  mkdirSync(debs);
  for (let i = 0; i < N; i++) {
    const arch = ['amd64', 'arm64', 'all'][i % 3]!;
    await writeDeb(join(debs, `bench${i}_1.0-1_${arch}.deb`), { name: `bench${i}`, version: '1.0-1', arch, payload: PAYLOAD });
  }
  const extra = join(work, 'extra');
  mkdirSync(extra);
  await writeDeb(join(extra, 'benchextra_1.0-1_amd64.deb'), { name: 'benchextra', version: '1.0-1', arch: 'amd64', payload: PAYLOAD });
  const key = join(work, 'signing.asc');
  const pub = join(work, 'signing.pub.asc');
  await timed([...oa, 'keys', 'generate', '--name', 'bench', '--email', 'bench@example.com', '--out', key, '--state-dir', work]);
  writeFileSync(pub, (await timed([...oa, 'keys', 'export', '--key', key, '--armor', '--state-dir', work])).stdout);
  const root = join(work, 'repo');
  await timed([...oa, 'repo', 'publish', '--state-dir', work, '--root', root, '--channel', 'stable', '--key', key, debs]);

  const repoState = join(work, 'repo-server');
  const port = await freePort();
  await timed([...ra, 'init', '--state-dir', repoState, '--trust-key', pub, '--listen', `127.0.0.1:${port}`]);
  const cred = join(work, 'deploy.cred');
  await timed([...ra, 'credentials', 'issue', '--state-dir', repoState, '--out', cred]);
  const serve = spawn(ra[0]!, [...ra.slice(1), 'serve', '--state-dir', repoState], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(serve);
  await new Promise<void>((resolve) => serve.stdout!.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve()));

  const sshd = await startSshd();
  const keyFile = join(work, 'id');
  writeFileSync(keyFile, sshd.clientKey, { mode: 0o600 });
  const ssh = `ssh -p ${sshd.port} -i ${keyFile} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o Compression=no`;
  const rsyncDest = join(work, 'rsync-dest');
  mkdirSync(rsyncDest);
  // After answering a deploy, the repo-agent copies the new snapshot's tree for the next deploy,
  // under its lock. Wait for it before timing anything, so that work never shares the CPU with
  // the rsync measured next (nor slows the next deploy's timing: that one would wait for the lock).
  const settled = async () => {
    for (const until = Date.now() + 120_000; existsSync(join(repoState, 'lock')); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > until) throw new Error(`the repo-agent still holds ${join(repoState, 'lock')} after 120 s`);
    }
  };
  const rsync = async () => (await settled(), timed(['rsync', '-a', '--delete', '--stats', '-e', ssh, `${root}/current/`, `${sshd.user}@127.0.0.1:${rsyncDest}/`]));
  // The user waits for the command; the repo-agent's preparation after it is reported beside it.
  const deploy = async () => {
    await settled();
    const r = await timed([...oa, 'deploy', '--state-dir', work, '--root', root, '--credential', cred]);
    const t0 = process.hrtime.bigint();
    await settled();
    return { ...r, after: Number(process.hrtime.bigint() - t0) / 1e9 };
  };
  const ours = (d: Awaited<ReturnType<typeof deploy>>) => `${fmtS(d.seconds)}, ${mib(wireBytes(d.stdout))} | ${fmtS(d.after)}`;

  const rows: string[] = [];
  const d1 = await deploy();
  const r1 = await rsync();
  rows.push(`| first (1000 packages, ${mib(N * PAYLOAD)}) | ${ours(d1)} | ${fmtS(r1.seconds)}, ${mib(rsyncBytes(r1.stdout))} |`);
  console.log(rows.at(-1));
  await timed([...oa, 'repo', 'publish', '--state-dir', work, '--root', root, '--channel', 'stable', '--key', key, extra]);
  const d2 = await deploy();
  const r2 = await rsync();
  rows.push(`| one package added | ${ours(d2)} | ${fmtS(r2.seconds)}, ${mib(rsyncBytes(r2.stdout))} |`);
  console.log(rows.at(-1));
  const d3 = await deploy();
  const r3 = await rsync();
  rows.push(`| nothing changed | ${ours(d3)} | ${fmtS(r3.seconds)}, ${mib(rsyncBytes(r3.stdout))} |`);
  console.log(rows.at(-1));
  await sshd.stop();

  writeSection('deploy', `## Deploy: orchestrator-agent deploy → repo-agent vs rsync -a over ssh (issue 6)

${machineLine()}, load average ${loadavg()[0]!.toFixed(1)} at the end. A repository of ${N} .debs
(~${PAYLOAD >> 10} KiB each, amd64/arm64/all) published by \`repo publish\`, deployed over loopback to a
\`repo-agent serve --listen\` (TLS-PSK WebSocket; it verifies every hash and the signatures, hard-links
what it already holds, swaps \`current\`; after answering, it prepares a copy of the new tree for
the next deploy to start from, and the benchmark waits for that before timing anything else) and, in the same run, copied with \`rsync -a --delete\` over
ssh to a local OpenSSH server (in place, no verification, no atomic swap). Times are whole commands
(process start included); bytes are what went over the connection (deploy: tar stream of the lacking
files; rsync: "Total bytes sent" of \`--stats\`).

| deploy | \`orchestrator-agent deploy\` | repo-agent busy after it (spare tree) | \`rsync -a --delete -e ssh\` |
|---|---|---|---|
${rows.join('\n')}

Target (issue 6): a one-package change moves no more bytes than rsync and finishes faster.

Commands: \`orchestrator-agent deploy --root ROOT --credential C\`;
\`rsync -a --delete --stats -e 'ssh -p PORT -i KEY' ROOT/current/ root@127.0.0.1:DEST/\`.`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
