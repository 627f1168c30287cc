import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_PATH, CREDENTIAL_PATH, renderUserData, type UserDataInput } from '../../packages/orchestrator-agent/src/machines/user-data';
import { BUILD_AGENT_UNIT } from '../../packages/orchestrator-agent/src/machines/units';

const run = promisify(execFile);

interface WriteFile {
  path: string;
  permissions: string;
  content: string;
}

const credential = JSON.stringify({ kind: 'pkgfleet-credential', version: 1, url: 'wss://10.116.0.2:7443', id: 'build-0123456789abcdef', secret: 'ab'.repeat(32), role: 'build' });
const base: UserDataInput = { release: 'v1.2.3-rc.1', target: 'amd64-deb', credential };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pkgfleet-cloud-init-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `cloud-init schema` from Debian; any warning or deprecation counts as a failure. */
async function schemaCheck(name: string, text: string): Promise<void> {
  const file = join(dir, name);
  await writeFile(file, text);
  const { stdout, stderr } = await run('cloud-init', ['schema', '--config-file', file]).catch((err: { stdout: string; stderr: string }) => {
    throw new Error(`cloud-init schema rejected ${name}:\n${err.stdout}${err.stderr}\n---\n${text}`);
  });
  expect(stderr).toBe('');
  expect(stdout.trim()).toBe(`Valid cloud-config: ${file}`);
}

function filesOf(text: string): Map<string, WriteFile> {
  expect(text.startsWith('#cloud-config\n')).toBe(true);
  const doc = parse(text) as { write_files: WriteFile[]; runcmd: string[][] };
  return new Map(doc.write_files.map((f) => [f.path, f]));
}

describe('machines user-data', () => {
  it('passes cloud-init schema with SSH bootstrap, download and GitLab runner variants', async () => {
    await schemaCheck('minimal.yaml', renderUserData(base));
    await schemaCheck('download.yaml', renderUserData({ ...base, executable: { url: 'https://dl.example/build-agent-linux-{arch}.xz', sha256: { x64: 'a'.repeat(64), arm64: 'b'.repeat(64) } } }));
    await schemaCheck('gitlab.yaml', renderUserData({ ...base, gitlab: { url: 'https://gitlab.example', token: 'glrt-secret', tags: ['pkgfleet-{target}', 'rel-{release}'], executor: 'shell' } }));
  });

  it('rejects a broken document (the check can fail)', async () => {
    // A file entry without its path: the schema requires one.
    const bad = renderUserData(base).replace('- path:', '- where:');
    await expect(schemaCheck('bad.yaml', bad)).rejects.toThrow(/cloud-init schema rejected/);
  });

  it('writes the config, the credential 0600 byte for byte, the unit, and starts it', () => {
    const files = filesOf(renderUserData({ ...base, buildAgentConfig: { heartbeatInterval: '10s' } }));
    const cred = files.get(CREDENTIAL_PATH)!;
    expect(cred.permissions).toBe('0600');
    expect(cred.content).toBe(credential + '\n');
    const config = JSON.parse(files.get(CONFIG_PATH)!.content) as Record<string, unknown>;
    expect(config.heartbeatInterval).toBe('10s');
    expect(String(config.comment)).toContain('v1.2.3-rc.1');
    expect(files.get('/etc/systemd/system/build-agent.service')!.content).toBe(BUILD_AGENT_UNIT);
    const boot = files.get('/usr/local/lib/pkgfleet/bootstrap')!.content;
    expect(boot).toContain('systemctl enable build-agent.service');
    expect(boot).toContain('systemctl start build-agent.service');
    expect(files.has('/usr/local/lib/pkgfleet/install-build-agent')).toBe(false);
  });

  it('download script installs only an executable whose SHA-256 matches', async () => {
    // Run the generated script for real against a file:// URL with a fake uname/systemctl-free PATH.
    const payload = join(dir, 'build-agent-linux-x64');
    await writeFile(payload, '#!/bin/sh\necho fake build-agent\n');
    await run('xz', ['-kf', payload]);
    const { stdout: sumLine } = await run('sha256sum', [payload + '.xz']);
    const good = sumLine.split(' ')[0]!;
    const script = (sum: string) =>
      filesOf(renderUserData({ ...base, executable: { url: `file://${dir}/build-agent-linux-{arch}.xz`, sha256: { x64: sum, arm64: sum } } }))
        .get('/usr/local/lib/pkgfleet/install-build-agent')!
        .content.replaceAll('/usr/local/bin/build-agent', join(dir, 'installed'));
    await writeFile(join(dir, 'install-bad'), script('0'.repeat(64)), { mode: 0o755 });
    await expect(run(join(dir, 'install-bad'))).rejects.toThrow(/did NOT match/);
    await expect(run(join(dir, 'installed'))).rejects.toThrow(/ENOENT/);
    await writeFile(join(dir, 'install-good'), script(good), { mode: 0o755 });
    await run(join(dir, 'install-good'));
    expect((await run(join(dir, 'installed'))).stdout).toBe('fake build-agent\n');
  });

  it('registers a GitLab runner with the pipeline tags, token by environment, and unregisters on stop', () => {
    const files = filesOf(renderUserData({ ...base, gitlab: { url: 'https://gitlab.example', token: 'legacy-registration-token', tags: ['pkgfleet-{target}', 'rel-{release}'], executor: 'shell' } }));
    expect(files.get('/etc/pkgfleet/gitlab-runner.token')!.permissions).toBe('0600');
    const reg = files.get('/usr/local/lib/pkgfleet/gitlab-runner-register')!.content;
    expect(reg).toContain("RUNNER_TAG_LIST='pkgfleet-amd64-deb,rel-v1.2.3-rc.1'");
    expect(reg).not.toContain('legacy-registration-token');
    const unit = files.get('/etc/systemd/system/pkgfleet-gitlab-runner.service')!.content;
    expect(unit).toMatch(/^ExecStop=.*gitlab-runner unregister --name pkgfleet-v1-2-3-rc-1-amd64-deb$/m);
    expect(files.get('/usr/local/lib/pkgfleet/bootstrap')!.content).toContain('systemctl enable --now pkgfleet-gitlab-runner.service');
  });
});
