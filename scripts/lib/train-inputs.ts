// What the code-cache training (scripts/lib/train.mjs) runs the agents' commands on. Bundled with
// esbuild by train.mjs: it imports the sources of @pkgfleet/shared and of the orchestrator, and
// the test helpers that write packages without dpkg-deb or rpmbuild.
//   node inputs.mjs DIR        writes into DIR a few small .deb and .rpm files in three batches (a
//                              cold publish, then two that add one package each) and a repository
//                              root published from the first batch, with its key, for the
//                              repo-agent's commands; prints {"batches":[...], "repo", "key", "publicKey"}
//   node inputs.mjs serve DIR  an orchestrator (state in DIR) for build-agent push to push to:
//                              prints {"credential"} once it listens, serves until SIGTERM
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, loadSigner, memoryLogger } from '@pkgfleet/shared';
import { buildProgram } from '../../packages/orchestrator-agent/src/cli';
import { publish } from '../../packages/orchestrator-agent/src/publish/pipeline';
import { DEFAULT_SETTINGS } from '../../packages/orchestrator-agent/src/publish/settings';
import { writeDeb } from '../../test/helpers/debs';
import { freePort } from '../../test/helpers/net';
import { makeRpm } from '../../test/helpers/rpms';

if (process.argv[2] === 'serve') await serve(process.argv[3]!);

async function serve(state: string): Promise<void> {
  mkdirSync(state, { recursive: true });
  process.env.PKGFLEET_CONFIG = join(state, 'orchestrator-agent.json');
  writeFileSync(process.env.PKGFLEET_CONFIG, '{}');
  const orchestrator = (...args: string[]) => buildProgram().parseAsync(['node', 'orchestrator-agent', '--state-dir', state, '--log-format', 'json', ...args]);
  const credential = join(state, 'build.credential');
  // stdout carries one line for the trainer: the credential, once serve prints "listening on"
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (String(chunk).startsWith('listening on')) return write(JSON.stringify({ credential }) + '\n', ...rest);
    return true;
  }) as typeof process.stdout.write;
  await orchestrator('init', '--listen', `127.0.0.1:${await freePort()}`);
  await orchestrator('credentials', 'issue', '--release', 'v1.0.0', '--target', 'amd64-deb', '--ttl', '1h', '--out', credential);
  await orchestrator('serve');
  process.exit(0);
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: node inputs.mjs DIR | serve DIR');

const batches: string[] = [];
for (let b = 0; b < 3; b++) {
  const d = join(dir, `batch${b}`);
  mkdirSync(d, { recursive: true });
  batches.push(d);
  // the first batch has every kind of package; the others add one .deb and one .rpm each
  const debs: Array<[string, string]> = b === 0 ? [['amd64', `train-tool`], ['all', 'train-data']] : [['amd64', `train-extra${b}`]];
  for (const [arch, name] of debs) {
    await writeDeb(join(d, `${name}_1.0-1_${arch}.deb`), { name, version: '1.0-1', arch, payload: 4096, depends: 'libc6 (>= 2.36)' });
  }
  const rpms: Array<[string, string]> = b === 0 ? [['x86_64', 'train-tool'], ['noarch', 'train-data'], ['aarch64', 'train-arm']] : [['x86_64', `train-extra${b}`]];
  for (const [arch, name] of rpms) {
    writeFileSync(join(d, `${name}-1.0-1.${arch}.rpm`), makeRpm({ name, version: '1.0', release: '1', arch, files: [{ path: `/usr/share/${name}/data`, data: Buffer.alloc(4096, b) }] }));
  }
}

const key = await generateSigningKey({ name: 'pkgfleet code cache training', email: 'train@example.invalid' });
const keyFile = join(dir, 'signing.asc');
const publicKey = join(dir, 'signing.pub.asc');
writeFileSync(keyFile, key.privateKeyArmored, { mode: 0o600 });
writeFileSync(publicKey, key.publicKeyArmored);
const repo = join(dir, 'published');
await publish({ root: repo, channel: 'stable', paths: [batches[0]!], signer: await loadSigner(key.privateKeyArmored, undefined), settings: DEFAULT_SETTINGS, now: new Date(), logger: memoryLogger() });
process.stdout.write(JSON.stringify({ batches, repo, key: keyFile, publicKey }));
