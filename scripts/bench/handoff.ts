// Benchmark of issue 3: build-agent push → orchestrator-agent serve over loopback, beside the raw
// TLS ceiling, scp and rsync -e ssh to a local OpenSSH server, all in one run.
// Run: npm run bench -- handoff   (needs npm run build; sshd, scp, rsync from Debian; root for sshd)
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../../test/helpers/sshd.ts';
import { freePort } from '../../test/helpers/net.ts';
import { agentArgv, fmtMBs, fmtMiB, fmtS, machineLine, median, peakRssOf, timed, writeSection, ROOT } from './lib/report.mjs';

const GiB = 2 ** 30;
const work = mkdtempSync(join(tmpdir(), 'pkgfleet-bench-handoff-'));
const node = process.execPath;

function makeBig(path: string, size: number) {
  const fd = openSync(path, 'w');
  const block = randomBytes(8 << 20);
  for (let done = 0; done < size; done += block.length) writeSync(fd, block, 0, Math.min(block.length, size - done));
  closeSync(fd);
}

async function startOrchestrator(stateDir: string) {
  const port = await freePort();
  const orch = agentArgv('orchestrator-agent');
  await timed([...orch, 'init', '--state-dir', stateDir, '--listen', `127.0.0.1:${port}`]);
  const child = spawn(orch[0]!, [...orch.slice(1), 'serve', '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve()));
  return { child, port };
}

async function rawTls(files: string[], dest: string): Promise<number> {
  const server = spawn(node, [join(ROOT, 'scripts/bench/lib/rawtls.cjs'), 'server', dest], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const t0 = process.hrtime.bigint();
  const done = new Promise((r) => server.once('exit', r));
  await timed([node, join(ROOT, 'scripts/bench/lib/rawtls.cjs'), 'client', port, files.join(',')]);
  await done;
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const rows: string[] = [];
const runs: string[] = [];
/** Runs of each tool per case; the table gives the medians. */
const REPS = 3;

/** Flush what earlier runs wrote and let the machine settle before the next timed run. */
async function settle() {
  execFileSync('sync');
  await new Promise((r) => setTimeout(r, 2000));
}
const results: Record<string, number> = {};
async function main() {
  const sshd = await startSshd();
  const keyFile = join(work, 'id');
  writeFileSync(keyFile, sshd.clientKey, { mode: 0o600 });
  const sshOpts = ['-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'Compression=no'];
  const ssh = ['-p', String(sshd.port), ...sshOpts];
  const scpArgs = ['-P', String(sshd.port), ...sshOpts];
  const stateDir = join(work, 'orch');
  const { child: orch } = await startOrchestrator(stateDir);
  const ba = agentArgv('build-agent');
  try {
    const big = join(work, 'big_1.0_amd64.deb');
    makeBig(big, GiB);
    const smallDir = join(work, 'small');
    mkdirSync(smallDir);
    const small = Array.from({ length: 1000 }, (_, i) => {
      const p = join(smallDir, `small${String(i).padStart(4, '0')}_1.0_amd64.deb`);
      writeFileSync(p, randomBytes(64 * 1024));
      return p;
    });
    const cases = [
      { name: '1 GiB file', files: [big], bytes: GiB },
      { name: '1000 × 64 KiB', files: small, bytes: 1000 * 64 * 1024 },
    ];
    let peakBuild = 0;
    for (const [i, c] of cases.entries()) {
      const sink = join(work, `sink${i}`);
      mkdirSync(sink);
      const t = { ceiling: [] as number[], push: [] as number[], again: [] as number[], scp: [] as number[], rsync: [] as number[] };
      // Each tool starts from the same state: the previous one's writes on disk (sync) and the
      // page cache settled. Nothing is deleted until the end: on this file system, deleting
      // slows the allocation of new inodes and blocks for a while after.
      for (let rep = 0; rep < REPS; rep++) {
        await settle();
        t.ceiling.push(await rawTls(c.files, join(sink, `raw${rep}`)));
        const release = `vbench${i}-${rep}`;
        const cred = join(work, `cred${i}-${rep}.json`);
        await timed([...agentArgv('orchestrator-agent'), 'credentials', 'issue', '--state-dir', stateDir, '--release', release, '--target', 'amd64-deb', '--out', cred]);
        await settle();
        const push = await timed([...ba, 'push', '--credential', cred, '--release', release, '--target', 'amd64-deb', ...c.files]);
        t.push.push(push.seconds);
        peakBuild = Math.max(peakBuild, push.rssKiB ?? 0);
        t.again.push((await timed([...ba, 'push', '--credential', cred, '--release', release, '--target', 'amd64-deb', ...c.files])).seconds);
        const scpDest = join(sink, `scp${rep}`);
        mkdirSync(scpDest);
        await settle();
        t.scp.push((await timed(['scp', '-q', ...scpArgs, ...c.files, `${sshd.user}@127.0.0.1:${scpDest}/`])).seconds);
        const rsyncDest = join(sink, `rsync${rep}`);
        mkdirSync(rsyncDest);
        await settle();
        t.rsync.push((await timed(['rsync', '-a', '-e', `ssh ${ssh.join(' ')}`, ...c.files, `${sshd.user}@127.0.0.1:${rsyncDest}/`])).seconds);
      }
      const [ceiling, push, again, scp, rsync] = [t.ceiling, t.push, t.again, t.scp, t.rsync].map(median) as [number, number, number, number, number];
      const pct = (ceiling / push) * 100;
      results[c.name] = pct;
      rows.push(`| ${c.name} | ${fmtS(ceiling)} (${fmtMBs(c.bytes, ceiling)}) | ${fmtS(push)} (${fmtMBs(c.bytes, push)}, ${pct.toFixed(0)}% of ceiling) | ${fmtS(again)} | ${fmtS(scp)} (${fmtMBs(c.bytes, scp)}) | ${fmtS(rsync)} (${fmtMBs(c.bytes, rsync)}) |`);
      runs.push(`${c.name}: ceiling ${t.ceiling.map(fmtS).join(', ')}; push ${t.push.map(fmtS).join(', ')}; scp ${t.scp.map(fmtS).join(', ')}; rsync ${t.rsync.map(fmtS).join(', ')}`);
      console.log(rows.at(-1));
      console.log(runs.at(-1));
    }
    const peakOrch = peakRssOf(orch.pid!);
    const md = `## Hand-off: build-agent push → orchestrator-agent serve (issue 3)

${machineLine()}. Loopback, the orchestrator's state on the same disk as the sources. Each push
includes the agent's start, hashing the files, TLS-PSK + WebSocket, writing, fsync and rename on the
orchestrator. Ceiling: \`scripts/bench/lib/rawtls.cjs\`, a plain TLS 1.3 stream between two Node
processes, file to file, receiver fsyncs. scp and rsync go to a local OpenSSH server (\`sshd\`,
aes128-gcm or chacha20 as negotiated, \`Compression=no\`). Agents: \`${ba.join(' ').replace(ROOT + '/', '')}\`.

| case | raw TLS ceiling | \`build-agent push\` | push again (no-op) | \`scp\` | \`rsync -a -e ssh\` |
|---|---|---|---|---|---|
${rows.join('\n')}

Medians of ${REPS} runs of each, every run started after \`sync\` and a 2 s pause, into a new
destination (nothing is deleted until the end). All runs (s):
${runs.map((r) => `- ${r}`).join('\n')}

Peak RSS: build-agent ${fmtMiB(peakBuild)} (max over the pushes, GNU time), orchestrator-agent
${fmtMiB(peakOrch)} (VmHWM of the serve process after all pushes). Target: ≥ 70% of the ceiling,
faster than scp, < 150 MiB per agent.

Commands: \`build-agent push --credential C --release R --target amd64-deb FILES…\`;
\`scp -q -P PORT -i KEY FILES… root@127.0.0.1:DIR/\`; \`rsync -a -e 'ssh -p PORT -i KEY' FILES… root@127.0.0.1:DIR/\`;
\`node scripts/bench/lib/rawtls.cjs server OUT\` / \`client PORT FILES\`.`;
    writeSection('handoff', md);
    console.log(md);
  } finally {
    orch.kill('SIGTERM');
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
