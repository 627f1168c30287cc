#!/usr/bin/env node
// `npm run demo`: the embedded default, a full release on this host. A repo-agent (deploys +
// HTTP), an orchestrator, build machines from the `local` provider (build-agent processes),
// sample .deb and .rpm packages built here and pushed by build-agent, then publish, deploy and
// clean-up by `orchestrator-agent release`. Ends with the apt and dnf lines to use the result, and
// checks them with the real apt and dnf when they (and ../shared/verify) are there.
//   --keep-serving   keep the repo-agent serving after the release (Ctrl-C stops it)
//   --dir DIR        work directory (default .demo/, recreated)
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: args } = parseArgs({ options: { 'keep-serving': { type: 'boolean' }, dir: { type: 'string' } } });
const WORK = path.resolve(args.dir ?? path.join(ROOT, '.demo'));
const RELEASE = 'v1.0.0';
const TARGETS = ['amd64-deb', 'arm64-deb', 'amd64-rpm', 'arm64-rpm'];
const children = [];
const say = (m) => console.log(`\n==> ${m}`);

// The bundles by default; PKGFLEET_AGENT_MODE=exe runs the standalone executables (what ships).
function agent(name) {
  const exe = path.join(ROOT, 'dist', 'bin', `${name}-linux-x64`);
  if (process.env.PKGFLEET_AGENT_MODE === 'exe' && existsSync(exe)) return [exe];
  return [process.execPath, path.join(ROOT, 'dist', 'bundle', `${name}.cjs`)];
}
function run(name, args, opts = {}) {
  const [cmd, ...pre] = agent(name);
  const r = spawnSync(cmd, [...pre, ...args], { encoding: 'utf8', env: { ...process.env, ...opts.env } });
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout.trim();
}
function start(name, args, logFile) {
  const [cmd, ...pre] = agent(name);
  const child = spawn(cmd, [...pre, ...args, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => writeFileSync(logFile, d, { flag: 'a' }));
  const listening = new Promise((resolve, reject) => {
    child.stdout.on('data', () => out.includes('listening on') && resolve(out));
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}; see ${logFile}`)));
  });
  return { child, listening, out: () => out };
}
const freePort = () => new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small but real package: /usr/bin/hello-pkgfleet prints the release. */
function buildSamples(target, outDir) {
  mkdirSync(outDir, { recursive: true });
  const [arch, kind] = target.split('-');
  const files = [];
  const script = `#!/bin/sh\necho "hello from pkgfleet ${RELEASE} (${target})"\n`;
  if (kind === 'deb') {
    if (!has('dpkg-deb')) return files;
    const pkgs = [['hello-pkgfleet', arch]].concat(arch === 'amd64' ? [['hello-pkgfleet-doc', 'all']] : []);
    for (const [name, a] of pkgs) {
      const dir = path.join(outDir, `${name}-root`);
      mkdirSync(path.join(dir, 'DEBIAN'), { recursive: true });
      mkdirSync(path.join(dir, 'usr', name === 'hello-pkgfleet' ? 'bin' : 'share/doc/hello-pkgfleet'), { recursive: true });
      if (name === 'hello-pkgfleet') {
        writeFileSync(path.join(dir, 'usr/bin/hello-pkgfleet'), script);
        chmodSync(path.join(dir, 'usr/bin/hello-pkgfleet'), 0o755);
      } else writeFileSync(path.join(dir, 'usr/share/doc/hello-pkgfleet/README'), `pkgfleet demo ${RELEASE}\n`);
      writeFileSync(path.join(dir, 'DEBIAN/control'), `Package: ${name}\nVersion: ${RELEASE.slice(1)}-1\nArchitecture: ${a}\nMaintainer: pkgfleet demo <demo@example.com>\nSection: misc\nPriority: optional\nDescription: pkgfleet demo package\n A package built and published by the pkgfleet embedded demo.\n`);
      const file = path.join(outDir, `${name}_${RELEASE.slice(1)}-1_${a}.deb`);
      execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', dir, file], { stdio: 'ignore' });
      rmSync(dir, { recursive: true });
      files.push(file);
    }
  } else {
    if (!has('rpmbuild')) return files;
    const rpmArch = arch === 'amd64' ? 'x86_64' : 'aarch64';
    const top = path.join(outDir, 'rpmbuild');
    const specs = [['hello-pkgfleet', rpmArch]].concat(arch === 'amd64' ? [['hello-pkgfleet-doc', 'noarch']] : []);
    for (const [name, a] of specs) {
      const spec = path.join(outDir, `${name}.spec`);
      const body = name === 'hello-pkgfleet'
        ? `mkdir -p %{buildroot}/usr/bin\ncat > %{buildroot}/usr/bin/hello-pkgfleet <<'EOS'\n${script}EOS\nchmod 755 %{buildroot}/usr/bin/hello-pkgfleet`
        : `mkdir -p %{buildroot}/usr/share/doc/hello-pkgfleet\necho "pkgfleet demo ${RELEASE}" > %{buildroot}/usr/share/doc/hello-pkgfleet/README`;
      writeFileSync(spec, `Name: ${name}\nVersion: ${RELEASE.slice(1)}\nRelease: 1\nSummary: pkgfleet demo package\nLicense: MIT\n${a === 'noarch' ? 'BuildArch: noarch\n' : ''}%description\nA package built and published by the pkgfleet embedded demo.\n%install\n${body}\n%files\n${name === 'hello-pkgfleet' ? '/usr/bin/hello-pkgfleet' : '/usr/share/doc/hello-pkgfleet/README'}\n`);
      execFileSync('rpmbuild', [...(a === 'noarch' ? [] : ['--target', a]), '--nodeps', '-bb', '--define', `_topdir ${top}`, '--define', '__os_install_post %{nil}', '--define', '_build_id_links none', '--define', 'debug_package %{nil}', spec], { stdio: 'ignore', env: { ...process.env, HOME: top } });
      const file = path.join(top, 'RPMS', a, `${name}-${RELEASE.slice(1)}-1.${a}.rpm`);
      files.push(file);
    }
  }
  return files;
}

async function main() {
  say('building the agents (esbuild bundles)');
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--bundle-only'], { stdio: 'inherit' });
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const repoState = path.join(WORK, 'repo-server');
  const orchState = path.join(WORK, 'orchestrator');
  const keys = path.join(WORK, 'keys');
  mkdirSync(keys, { mode: 0o700 });

  say('signing key (Ed25519, OpenPGP v4)');
  run('orchestrator-agent', ['keys', 'generate', '--name', 'pkgfleet demo', '--email', 'demo@example.com', '--out', path.join(keys, 'signing.asc')]);
  writeFileSync(path.join(keys, 'pkgfleet.asc'), run('orchestrator-agent', ['keys', 'export', '--key', path.join(keys, 'signing.asc'), '--armor']) + '\n');

  say('repo server: repo-agent init, deploy credential, serve');
  const [deployPort, httpPort, orchPort] = [await freePort(), await freePort(), await freePort()];
  run('repo-agent', ['init', '--state-dir', repoState, '--trust-key', path.join(keys, 'pkgfleet.asc'), '--listen', `127.0.0.1:${deployPort}`]);
  mkdirSync(orchState, { recursive: true });
  run('repo-agent', ['credentials', 'issue', '--state-dir', repoState, '--out', path.join(orchState, 'deploy.credential')]);
  const repo = start('repo-agent', ['serve', '--state-dir', repoState, '--http', `127.0.0.1:${httpPort}`], path.join(WORK, 'repo-agent.log'));
  await repo.listening;
  const base = `http://127.0.0.1:${httpPort}`;

  say('orchestrator: init, serve');
  run('orchestrator-agent', ['init', '--state-dir', orchState, '--listen', `127.0.0.1:${orchPort}`]);
  const cfgPath = path.join(orchState, 'orchestrator-agent.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  Object.assign(cfg, { repoKey: path.join(keys, 'signing.asc'), deployCredential: path.join(orchState, 'deploy.credential'), repoBaseUrl: base, repoKeyName: 'pkgfleet', machinesProvider: 'local' });
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const orch = start('orchestrator-agent', ['serve', '--state-dir', orchState], path.join(WORK, 'orchestrator.log'));
  await orch.listening;

  say(`release ${RELEASE}: build machines (local provider), builds, pushes, publish, deploy`);
  const [cmd, ...pre] = agent('orchestrator-agent');
  const release = spawn(cmd, [...pre, 'release', '--state-dir', orchState, '--release', RELEASE, '--channel', 'stable', '--targets', TARGETS.join(','), '--provider', 'local', '--timeout', '5m', '--log-format', 'text'], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(release);
  const released = new Promise((resolve) => release.once('exit', resolve));
  // The build jobs: on each machine, build the packages and push them with the machine's credential.
  await Promise.all(TARGETS.map(async (target) => {
    const cred = path.join(orchState, 'local-machines', RELEASE, target, 'credential.json');
    while (!existsSync(cred)) await sleep(100);
    const files = buildSamples(target, path.join(WORK, 'build', target));
    if (files.length === 0) throw new Error(`cannot build ${target} samples here (needs dpkg-deb / rpmbuild)`);
    const out = run('build-agent', ['push', '--credential', cred, '--release', RELEASE, '--target', target, '--log-format', 'text', ...files]);
    console.log(`   build ${target}: ${out}`);
  }));
  const code = await released;
  if (code !== 0) throw new Error(`orchestrator-agent release exited ${code}`);

  const arch = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout?.trim() || 'amd64';
  const rpmArch = arch === 'arm64' ? 'aarch64' : 'x86_64';
  say('done: the repository is served by repo-agent at ' + base);
  console.log(`
apt (Debian/Ubuntu):
  curl -fsSL ${base}/gpg/pkgfleet.gpg | sudo tee /usr/share/keyrings/pkgfleet.gpg >/dev/null
  echo "deb [signed-by=/usr/share/keyrings/pkgfleet.gpg] ${base}/apt stable main" | sudo tee /etc/apt/sources.list.d/pkgfleet.list
  sudo apt-get update && sudo apt-get install hello-pkgfleet

dnf (Fedora/RHEL/Rocky):
  sudo curl -fsSL -o /etc/yum.repos.d/pkgfleet.repo ${base}/rpm/stable/pkgfleet-stable-${rpmArch}.repo
  sudo dnf install hello-pkgfleet
`);

  const verify = path.resolve(ROOT, '..', 'shared', 'verify');
  if (existsSync(verify) && has('apt-get')) {
    say('checking with the real apt (isolated configuration)');
    const r = spawnSync('bash', [path.join(verify, 'verify-apt.sh'), `${base}/apt`, 'stable', 'main', path.join(keys, 'pkgfleet.asc'), 'hello-pkgfleet', arch], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('verify-apt.sh failed');
  }
  if (existsSync(verify) && has('dnf')) {
    say('checking with the real dnf (isolated installroot, gpgcheck=1, repo_gpgcheck=1)');
    const repoFile = path.join(WORK, 'pkgfleet.repo');
    execFileSync('curl', ['-fsS', '-o', repoFile, `${base}/rpm/stable/pkgfleet-stable-${rpmArch}.repo`]);
    const r = spawnSync('bash', [path.join(verify, 'verify-dnf.sh'), `${base}/rpm/stable/${rpmArch}/`, path.join(keys, 'pkgfleet.asc'), 'hello-pkgfleet', rpmArch], { stdio: 'inherit', env: { ...process.env, DNF_REPO_FILE: repoFile } });
    if (r.status !== 0) throw new Error('verify-dnf.sh failed');
  }
  if (args['keep-serving']) {
    say(`serving ${base} until Ctrl-C (logs in ${WORK})`);
    await new Promise((resolve) => process.once('SIGINT', resolve));
  }
}

main()
  .then(() => {
    for (const c of children) c.kill('SIGTERM');
    console.log('\ndemo complete');
  })
  .catch((err) => {
    for (const c of children) c.kill('SIGTERM');
    console.error(`\ndemo failed: ${err.message}\n(logs in ${WORK})`);
    process.exit(1);
  });
