/**
 * .deb fixtures: built with the real dpkg-deb (buildDeb), written by a small ar/tar writer when
 * thousands are needed fast (writeDeb: the benchmark), or fetched from Debian with
 * `apt-get download` (realDebs). No binary blobs in the repository.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface DebSpec {
  name: string;
  version: string;
  arch: string;
  description?: string;
  depends?: string;
  source?: string;
  /** Extra control lines, verbatim ("Field: value\n"). */
  extra?: string;
  /** Bytes of pseudo-random payload in /usr/share/<name>/data (default 64). */
  payload?: number;
}

function controlText(s: DebSpec): string {
  return [
    `Package: ${s.name}`,
    s.source ? `Source: ${s.source}` : undefined,
    `Version: ${s.version}`,
    `Architecture: ${s.arch}`,
    'Maintainer: pkgfleet tests <tests@example.com>',
    'Installed-Size: 1',
    s.depends ? `Depends: ${s.depends}` : undefined,
    'Section: misc',
    'Priority: optional',
    `Description: ${s.description ?? `test package ${s.name}`}`,
  ].filter(Boolean).join('\n') + '\n' + (s.extra ?? '');
}

/** Deterministic filler (same spec, same bytes) that does not compress. */
function payloadBytes(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, n - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Build `dir/<name>_<version>_<arch>.deb` with dpkg-deb; returns its path. */
export function buildDeb(dir: string, spec: DebSpec, compression: 'gzip' | 'xz' | 'zstd' | 'none' = 'xz'): string {
  const root = mkdtempSync(join(tmpdir(), 'debroot-'));
  try {
    mkdirSync(join(root, 'DEBIAN'));
    writeFileSync(join(root, 'DEBIAN', 'control'), controlText(spec));
    mkdirSync(join(root, 'usr', 'share', spec.name), { recursive: true });
    writeFileSync(join(root, 'usr', 'share', spec.name, 'data'), payloadBytes(`${spec.name}-${spec.version}-${spec.arch}`, spec.payload ?? 64));
    mkdirSync(dir, { recursive: true });
    const out = join(dir, `${spec.name}_${spec.version.replace(/^\d+:/, '')}_${spec.arch}.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, out], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    return out;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function tarOf(files: Array<{ name: string; data: Buffer; mode?: number }>, dirs: string[] = []): Promise<Buffer> {
  const pack = tar.pack();
  for (const d of dirs) pack.entry({ name: d, type: 'directory', mode: 0o755, mtime: new Date(1_700_000_000_000) });
  for (const f of files) pack.entry({ name: f.name, size: f.data.length, mode: f.mode ?? 0o644, mtime: new Date(1_700_000_000_000) }, f.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function arMember(name: string, data: Buffer): Buffer {
  const h = `${name.padEnd(16)}${'1700000000'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
  return Buffer.concat([Buffer.from(h, 'latin1'), data, data.length % 2 ? Buffer.from('\n') : Buffer.alloc(0)]);
}

/** An ar archive from raw members (also for damaged fixtures). */
export function arArchive(members: Array<[string, Buffer]>): Buffer {
  return Buffer.concat([Buffer.from('!<arch>\n'), ...members.map(([n, d]) => arMember(n, d))]);
}

/**
 * A .deb written directly (control.tar.gz, uncompressed data.tar): the same format dpkg-deb
 * writes, ~100x faster, for benchmarks with thousands of packages. `control` overrides the
 * generated control file (for bad-input tests).
 */
export async function writeDeb(path: string, spec: DebSpec, control?: string): Promise<string> {
  const controlTar = gzipSync(await tarOf([{ name: './control', data: Buffer.from(control ?? controlText(spec)) }], ['./']));
  const dataTar = await tarOf(
    [{ name: `./usr/share/${spec.name}/data`, data: payloadBytes(`${spec.name}-${spec.version}-${spec.arch}`, spec.payload ?? 64) }],
    ['./', './usr/', './usr/share/', `./usr/share/${spec.name}/`],
  );
  writeFileSync(path, arArchive([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', controlTar], ['data.tar', dataTar]]));
  return path;
}

/** `apt-cache policy`-free check that this machine can fetch from Debian (apt lists present). */
export function aptListsPresent(): boolean {
  try {
    return readdirSync('/var/lib/apt/lists').some((f) => f.includes('_Packages'));
  } catch {
    return false;
  }
}

/**
 * Real packages from the machine's configured Debian mirror, fetched now with `apt-get download`.
 * Throws (never skips) when that is impossible: the test must say why it cannot run.
 */
export function realDebs(dir: string, packages: string[]): string[] {
  mkdirSync(dir, { recursive: true });
  if (!aptListsPresent()) {
    throw new Error('apt-get download needs this machine\'s apt lists: run `apt-get update` first (CI: .ci/run does)');
  }
  const r = spawnSync('apt-get', ['download', ...packages], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`apt-get download ${packages.join(' ')} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return readdirSync(dir).filter((f) => f.endsWith('.deb')).sort().map((f) => join(dir, f));
}
