import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentMode, NODE24, REPO_ROOT } from '../helpers/agents';

/**
 * The embedded default, as README's first command runs it: a whole release on this host with the
 * local provider, ending with the real apt-get install (in a Debian chroot) and dnf install
 * --installroot of the sample packages, through ../shared/verify.
 */
describe('release with the local provider (npm run demo)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pkgfleet-demo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes amd64/arm64/all debs and x86_64/aarch64/noarch rpms that the real apt and dnf install', () => {
    const r = spawnSync(NODE24, [join(REPO_ROOT, 'scripts', 'demo.mjs'), '--dir', dir], {
      encoding: 'utf8',
      env: { ...process.env, PKGFLEET_AGENT_MODE: agentMode('orchestrator-agent') },
      timeout: 600_000,
    });
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/4 build machine\(s\) registered/);
    expect(out).toMatch(/published apt: 3 package\(s\), \+3 -0/);
    expect(out).toMatch(/published yum: 3 package\(s\), \+3 -0/);
    expect(out).toMatch(/deleted 4 build machine\(s\) of v1.0.0/);
    expect(out).toMatch(/real install: apt-get install hello-pkgfleet inside a throwaway bookworm chroot/);
    expect(out).toMatch(/ok: rpm -i|ok: dnf install/);
    expect(out.match(/RESULT: PASS/g)?.length).toBe(2);
    expect(out).toMatch(/deb \[signed-by=\/usr\/share\/keyrings\/pkgfleet.gpg\] http:\/\/127.0.0.1:\d+\/apt stable main/);
  });
});
