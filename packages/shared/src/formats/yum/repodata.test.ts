import { execFile as execFileCb } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRpm, rpmbuild } from '../../../../../test/helpers/rpms';
import { readRpm } from '../rpm/header';
import { packageFromRpm } from '../rpm/package';
import { filelistsPackage } from './filelists';
import { otherPackage } from './other';
import { primaryPackage, type PackageFile } from './primary';

/**
 * Golden test: for rpms made by rpmbuild (and by our generator), each <package> element we
 * write must be byte-identical to the one createrepo_c writes for the same file.
 */
const execFile = promisify(execFileCb);
let dir: string;
let repo: string;
const created: Record<'primary' | 'filelists' | 'other', Map<string, string>> = { primary: new Map(), filelists: new Map(), other: new Map() };

const days = ['Mon Jan 01 2024', 'Mon Jan 01 2024', 'Sun Dec 31 2023', 'Sat Dec 30 2023', 'Fri Dec 29 2023', 'Thu Dec 28 2023', 'Wed Dec 27 2023',
  'Tue Dec 26 2023', 'Mon Dec 25 2023', 'Sun Dec 24 2023', 'Sat Dec 23 2023', 'Fri Dec 22 2023', 'Thu Dec 21 2023'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yum-golden-'));
  repo = join(dir, 'repo');
  await mkdir(repo);
  const settled = await Promise.allSettled([
    rpmbuild(dir, {
      name: 'golden-epoch', version: '1.2', release: '3.el9', epoch: 2, arch: 'x86_64',
      summary: Buffer.from('caf\xe9 & <cr\xe8me> "br\xfbl\xe9e"', 'latin1'),
      description: 'Line one & two\n  indented <tag>\n\ttabbed',
      preamble: [
        'Requires: (foo >= 1.0 if bar)', 'Requires: (pkgA or pkgB)', 'Requires(pre): /bin/sh', 'Requires(post): coreutils',
        'Requires: /usr/bin/golden-epoch', 'Requires: golden-epoch-api = 5', 'Requires: libfoo.so.1()(64bit)', 'Requires: versioned >= 1:2.3-4',
        'Recommends: baz >= 1.0', 'Suggests: qux', 'Supplements: (golden-epoch and langpacks-fr)', 'Enhances: other-thing',
        'Conflicts: old < 1:2.0-1', 'Obsoletes: ancient < 3', 'Provides: golden-epoch-api = 5', 'Provides: golden epoch with spaces',
        'Vendor: Example & Co', 'Packager: Pat <pat@example.com>', 'URL: https://example.com/?a=1&b=2', 'Group: System/Tools',
      ],
      files: { '/usr/bin/golden-epoch': 'x', '/etc/golden/conf': 'c', '/usr/share/golden/with space/a file': 's', '/usr/sbin/golden-tool': 't', '/usr/lib/sendmail': 'm' },
      fileLines: ['%ghost /var/log/golden.log', '%dir /etc/golden', '%dir "/usr/share/golden/with space"'],
      changelog: days.map((d, i) => [d, `Author ${i} <a${i}@example.com> - 1.${i}-1`, `change ${i} & <more>`] as [string, string, string]),
    }),
    rpmbuild(dir, {
      name: 'golden-many', version: '0.1~rc1', release: '1', arch: 'aarch64',
      files: Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`/usr/share/golden-many/d${i % 50}/file-${i}.txt`, `${i}`])),
      install: ['mkdir -p %{buildroot}/usr/bin', 'ln -s ../share/golden-many/d0/file-0.txt %{buildroot}/usr/bin/golden-many'],
      fileLines: ['/usr/bin/golden-many'],
    }),
    rpmbuild(dir, { name: 'golden-noarch', version: '20240101', release: '0.git1234', arch: 'noarch' }),
  ]);
  const built = settled.map((r) => { if (r.status === 'rejected') throw r.reason; return r.value; });
  const generated = join(dir, 'generated-1.0-1.x86_64.rpm');
  await writeFile(generated, makeRpm({ name: 'generated', arch: 'x86_64', epoch: 1, requires: [['bash', 8 | 4, '4.0']], files: [{ path: '/usr/bin/generated', data: Buffer.from('x'), mode: 0o100755 }] }));
  for (const f of [...built, generated]) await copyFile(f, join(repo, basename(f)));
  await execFile('createrepo_c', ['--no-database', repo]);
  const md = join(repo, 'repodata');
  for (const f of await readdir(md)) {
    const m = /-(primary|filelists|other)\.xml\.gz$/.exec(f);
    if (!m) continue;
    const xml = gunzipSync(await readFile(join(md, f))).toString('utf8');
    for (const block of xml.match(/<package[ >][\s\S]*?<\/package>\n/g) ?? []) {
      const key = /<location href="([^"]+)"/.exec(block)?.[1] ?? /pkgid="([^"]+)"/.exec(block)![1]!;
      created[m[1] as 'primary'].set(key, block);
    }
  }
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function ours(file: string): Promise<{ primary: string; filelists: string; other: string; sha256: string }> {
  const bytes = await readFile(file);
  const st = await stat(file);
  const pf: PackageFile = { href: basename(file), sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, mtime: Math.floor(st.mtimeMs / 1000) };
  const pkg = packageFromRpm(readRpm(bytes, file));
  return { primary: primaryPackage(pkg, pf), filelists: filelistsPackage(pkg, pf), other: otherPackage(pkg, pf), sha256: pf.sha256 };
}

describe('repodata fragments equal createrepo_c output', () => {
  it('covers every package createrepo_c saw', () => {
    expect(created.primary.size).toBe(4);
  });

  for (const name of ['golden-epoch-1.2-3.el9.x86_64.rpm', 'golden-many-0.1~rc1-1.aarch64.rpm', 'golden-noarch-20240101-0.git1234.noarch.rpm', 'generated-1.0-1.x86_64.rpm']) {
    it(name, async () => {
      const o = await ours(join(repo, name));
      expect(o.primary).toBe(created.primary.get(name));
      expect(o.filelists).toBe(created.filelists.get(o.sha256));
      expect(o.other).toBe(created.other.get(o.sha256));
    });
  }
});
