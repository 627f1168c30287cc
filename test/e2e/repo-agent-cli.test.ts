import { afterEach, describe, expect, it } from 'vitest';
import { appendFile, readlink, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { repoAgentFixture, type RepoAgentFixture } from '../helpers/repo-agent';

let fx: RepoAgentFixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

interface Listed {
  live: string | null;
  snapshots: { id: string; live: boolean; files: number }[];
}

describe('repo-agent CLI', () => {
  it('init, import, list, rollback, activate, verify and gc as a user runs them', async () => {
    fx = await repoAgentFixture();
    const f = fx;
    expect(await f.ok(['init', '--trust-key', f.keyFile])).toMatch(new RegExp(`trusted key ${f.key.signer.fingerprint}`));
    // init is idempotent.
    await f.ok(['init', '--trust-key', f.keyFile]);
    const list = async () => JSON.parse(await f.ok(['list', '--json'])) as Listed;
    expect(await list()).toEqual({ live: null, snapshots: [] });

    const a = JSON.parse(await f.ok(['import', '--from', await f.tree({ packages: 5 }), '--json'])) as { id: string; counter: { filesReceived: number } };
    const b = JSON.parse(await f.ok(['import', '--from', await f.tree({ packages: 5, changed: [2] }), '--json'])) as { id: string; counter: { filesReceived: number; filesLinked: number } };
    expect(b.counter.filesLinked).toBeGreaterThan(0);
    let l = await list();
    expect(l.live).toBe(b.id);
    expect(l.snapshots.map((s) => s.id)).toEqual([a.id, b.id]);
    expect(await readlink(join(f.stateDir, 'current'))).toBe(`snapshots/${b.id}`);

    expect(await f.ok(['rollback'])).toContain(`live: ${a.id}`);
    expect((await list()).live).toBe(a.id);
    // Nothing older than the first: a clear error, exit 1, nothing changed.
    const none = await f.run(['rollback']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: no snapshot older than the live one/m);
    expect(await f.ok(['activate', b.id])).toContain(`live: ${b.id}`);
    expect(await f.ok(['rollback', '--to', a.id])).toContain(`live: ${a.id}`);
    await f.ok(['activate', b.id]);

    expect(await f.ok(['verify'])).toMatch(new RegExp(`snapshot ${b.id}: ok, \\d+ files`));
    expect(await f.ok(['verify', a.id])).toContain(`snapshot ${a.id}: ok`);

    // gc keeps the newest K and always the live one.
    const c = JSON.parse(await f.ok(['import', '--from', await f.tree({ packages: 5, changed: [3] }), '--json'])) as { id: string };
    await f.ok(['activate', a.id]);
    const gc = JSON.parse(await f.ok(['gc', '--keep', '1', '--json'])) as { removed: string[]; kept: string[] };
    expect(gc.removed).toEqual([b.id]);
    l = await list();
    expect(l.snapshots.map((s) => s.id).sort()).toEqual([a.id, c.id].sort());
    expect(l.live).toBe(a.id);
    expect((await readdir(join(f.stateDir, 'snapshots'))).sort()).toEqual([a.id, c.id].sort());

    // A changed byte on disk is found by verify.
    await appendFile(join(f.stateDir, 'snapshots', c.id, 'apt/dists/stable/main/binary-amd64/Packages'), 'x');
    const bad = await f.run(['verify', c.id]);
    expect(bad.code).toBe(1);
    // (Its by-hash copy is the same inode, a hard link: it is reported too.)
    expect(bad.stderr).toMatch(new RegExp(`^error: snapshot ${c.id}: \\d file\\(s\\) do not match: apt/dists/stable/main/binary-amd64/Packages: `, 'm'));
  });

  it('refuses a tree signed by another key, bad usage and an unknown snapshot with the right exit codes', async () => {
    fx = await repoAgentFixture();
    const f = fx;
    await f.ok(['init', '--trust-key', f.keyFile]);
    const good = JSON.parse(await f.ok(['import', '--from', await f.tree(), '--json'])) as { id: string };
    const { makeTestKey } = await import('../helpers/signed-repo');
    const other = await makeTestKey('intruder');
    const r = await f.run(['import', '--from', await f.tree({ variant: 'evil' }, other.signer)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/InRelease: signature does not verify against key/);
    expect(JSON.parse(await f.ok(['list', '--json']))).toMatchObject({ live: good.id, snapshots: [{ id: good.id }] });
    expect((await f.run(['gc', '--keep', 'zero'])).code).toBe(2);
    expect((await f.run(['activate'])).code).toBe(2);
    const unknown = await f.run(['activate', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/snapshot nope: no such snapshot/);
  });

  it('tells the user to run init when no trusted key is configured', async () => {
    fx = await repoAgentFixture();
    const r = await fx.run(['import', '--from', await fx.tree()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no trusted public key is configured[\s\S]*repo-agent init --trust-key/);
  });
});
