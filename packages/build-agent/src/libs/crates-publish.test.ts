import { memoryLogger } from '@pkgfleet/shared';
import { describe, expect, it } from 'vitest';
import type { CrateDir } from './cargo';
import { classifyPublishFailure, publishCrates, type CratesPort, type CratesRunOptions } from './crates-publish';

function crate(name: string, version: string, deps: string[] = []): CrateDir {
  return {
    name,
    version,
    dir: `/src/${name}`,
    manifestPath: `/src/${name}/Cargo.toml`,
    publish: null,
    dependencies: deps.map((d) => ({ name: d, req: `^${version}`, kind: 'normal' as const, registry: null, path: `/src/${d}` })),
  };
}

/** A registry whose index shows a version `lag` polls after it was published. */
function fakePort(crates: CrateDir[], opts: { existing?: string[]; lag?: number; publishResults?: Record<string, Array<{ code: number; output: string }>> } = {}) {
  const registry = new Set(opts.existing ?? []);
  const polls = new Map<string, number>();
  const calls: string[] = [];
  const port: CratesPort = {
    readCrate: async (dir) => crates.find((c) => c.dir === dir)!,
    versionExists: async (n, v) => registry.has(`${n}@${v}`),
    publish: async (c) => {
      calls.push(`publish ${c.name}`);
      const scripted = opts.publishResults?.[c.name]?.shift();
      if (scripted) return { ...scripted, stdout: '' };
      registry.add(`${c.name}@${c.version}`);
      return { code: 0, output: '', stdout: '' };
    },
    visible: async (deps) => {
      calls.push(`probe ${deps.map((d) => d.name).join(',')}`);
      const ok = deps.every((d) => {
        const k = `${d.name}@${d.version}`;
        polls.set(k, (polls.get(k) ?? 0) + 1);
        return registry.has(k) && polls.get(k)! > (opts.lag ?? 0);
      });
      return { visible: ok, output: ok ? '' : 'failed to select a version for the requirement' };
    },
  };
  return { port, calls, registry };
}

function options(dirs: string[], extra: Partial<CratesRunOptions> = {}): CratesRunOptions {
  let clock = 0;
  return {
    release: 'v1.2.3',
    dirs,
    versionCheck: true,
    dryRun: false,
    registry: 'test',
    indexTimeoutMs: 60_000,
    indexPollMs: 1000,
    publishRetries: 2,
    retryBaseMs: 10,
    logger: memoryLogger(),
    sleep: async (ms) => void (clock += ms),
    now: () => clock,
    ...extra,
  };
}

describe('publishCrates', () => {
  const tools = crate('demo-tools', '1.2.3');
  const core = crate('demo-core', '1.2.3', ['demo-tools', 'serde']);

  it('publishes dependencies first and waits until the index shows them', async () => {
    const { port, calls } = fakePort([tools, core], { lag: 2 });
    const s = await publishCrates(options(['/src/demo-core', '/src/demo-tools']), port);
    expect(s.outcomes).toEqual([
      { item: 'demo-tools 1.2.3', status: 'published' },
      { item: 'demo-core 1.2.3', status: 'published' },
    ]);
    expect(calls).toEqual(['publish demo-tools', 'probe demo-tools', 'probe demo-tools', 'probe demo-tools', 'publish demo-core']);
  });

  it('skips versions the registry has, and publishes the rest', async () => {
    const { port, calls } = fakePort([tools, core], { existing: ['demo-tools@1.2.3'] });
    const s = await publishCrates(options(['/src/demo-tools', '/src/demo-core']), port);
    expect(s.outcomes.map((o) => o.status)).toEqual(['already-there', 'published']);
    expect(calls).toEqual(['probe demo-tools', 'publish demo-core']);
  });

  it('gives up on a dependent when the index does not show the dependency by the deadline', async () => {
    const { port, calls } = fakePort([tools, core], { lag: 1000 });
    const s = await publishCrates(options(['/src/demo-tools', '/src/demo-core'], { indexTimeoutMs: 30_000 }), port);
    expect(s.outcomes[0]!.status).toBe('published');
    expect(s.outcomes[1]).toMatchObject({ status: 'failed', detail: expect.stringContaining('demo-tools 1.2.3 not in the index after 30s') });
    expect(calls.filter((c) => c.startsWith('publish'))).toEqual(['publish demo-tools']);
  });

  it('retries rate limits, and fails the dependents of a crate that failed', async () => {
    const rateLimited = { code: 101, output: 'the remote server responded with an error (status 429 Too Many Requests): slow down' };
    const denied = { code: 101, output: 'the remote server responded with an error (status 403 Forbidden): not an owner' };
    const other = crate('demo-other', '1.2.3');
    const { port, calls } = fakePort([tools, core, other], { publishResults: { 'demo-tools': [rateLimited, denied] } });
    const s = await publishCrates(options(['/src/demo-core', '/src/demo-tools', '/src/demo-other']), port);
    expect(s.outcomes).toEqual([
      { item: 'demo-tools 1.2.3', status: 'failed', detail: expect.stringContaining('403 Forbidden') },
      { item: 'demo-core 1.2.3', status: 'failed', detail: 'not published: depends on demo-tools, which failed' },
      { item: 'demo-other 1.2.3', status: 'published' },
    ]);
    expect(calls).toEqual(['publish demo-tools', 'publish demo-tools', 'publish demo-other']);
  });

  it('counts a 5xx whose upload went through as published', async () => {
    const { port, registry } = fakePort([tools]);
    const flaky: CratesPort = {
      ...port,
      publish: async (c) => {
        registry.add(`${c.name}@${c.version}`);
        return { code: 101, output: 'the remote server responded with an error (status 502 Bad Gateway)', stdout: '' };
      },
    };
    const s = await publishCrates(options(['/src/demo-tools']), flaky);
    expect(s.outcomes).toEqual([{ item: 'demo-tools 1.2.3', status: 'published' }]);
  });

  it('checks every version against the tag before uploading anything', async () => {
    const { port, calls } = fakePort([tools, crate('demo-core', '1.2.2', ['demo-tools'])]);
    await expect(publishCrates(options(['/src/demo-tools', '/src/demo-core']), port)).rejects.toThrow(/demo-core has version 1.2.2, release v1.2.3 wants 1.2.3/);
    expect(calls).toEqual([]);
    const s = await publishCrates(options(['/src/demo-tools', '/src/demo-core'], { versionCheck: false }), port);
    expect(s.outcomes.map((o) => o.status)).toEqual(['published', 'published']);
  });

  it('in a dry run says what it would publish and publishes nothing', async () => {
    const { port, calls } = fakePort([tools, core], { existing: ['demo-tools@1.2.3'] });
    const s = await publishCrates(options(['/src/demo-core', '/src/demo-tools'], { dryRun: true }), port);
    expect(s.outcomes.map((o) => [o.item, o.status])).toEqual([
      ['demo-tools 1.2.3', 'already-there'],
      ['demo-core 1.2.3', 'would-publish'],
    ]);
    expect(calls).toEqual([]);
  });
});

describe('classifyPublishFailure', () => {
  it('reads what cargo and crates.io say', () => {
    expect(classifyPublishFailure('error: crate demo-core@1.2.3 already exists on `test` index')).toBe('already-there');
    expect(classifyPublishFailure('the remote server responded with an error (status 400 Bad Request): crate version `1.2.3` is already uploaded')).toBe('already-there');
    expect(classifyPublishFailure('the remote server responded with an error (status 503 Service Unavailable): try later')).toBe('retry');
    expect(classifyPublishFailure('failed to connect to 127.0.0.1')).toBe('retry');
    expect(classifyPublishFailure('the remote server responded with an error (status 403 Forbidden)')).toBe('fail');
  });
});
