import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { encodeRpmHeader as encodeHeader, rpmEntry as entry, RpmSigTag as SigTag, RpmTag as Tag, type RpmEntryData as EntryData } from '@pkgfleet/shared';

/**
 * rpm fixtures. Two recipes:
 *  - `rpmbuild*`: packages made by the real rpmbuild from a generated spec (what other builders
 *    hand us: epochs, rich and weak deps, Latin-1 summaries, odd file names, changelogs);
 *  - `makeRpm`: a fast generator of our own (header writer + cpio + gzip) for the benchmark and
 *    for tests that need many packages; its output passes `rpmkeys -K` and installs with rpm.
 */

const run = promisify(execFile);

export interface SpecOptions {
  name: string;
  version?: string;
  release?: string;
  epoch?: number;
  /** rpm arch: noarch, x86_64, aarch64 (built with --target, no compiler involved). */
  arch?: string;
  /** Raw bytes allowed (Latin-1 summary). */
  summary?: string | Buffer;
  description?: string;
  /** Extra preamble lines: Requires:, Recommends:, Provides: ... */
  preamble?: string[];
  /** Files to install: path -> content. Paths may contain spaces. */
  files?: Record<string, string>;
  /** Extra file-section lines (%ghost ..., %dir ...). */
  fileLines?: string[];
  /** Changelog entries, newest first: [date like "Mon Jan 01 2024", author, text]. */
  changelog?: [string, string, string][];
  /** Extra %install shell lines. */
  install?: string[];
}

function q(s: string): string {
  return `"${s.replace(/(["\\$`])/g, '\\$1')}"`;
}

/** Build one binary rpm with rpmbuild in `dir` (own topdir, HOME and macros); returns its path. */
export async function rpmbuild(dir: string, o: SpecOptions): Promise<string> {
  const top = join(dir, `rpmbuild-${o.name}-${randomBytes(3).toString('hex')}`);
  await mkdir(join(top, 'SPECS'), { recursive: true });
  const arch = o.arch ?? 'noarch';
  const files = o.files ?? { [`/usr/share/${o.name}/README`]: `${o.name}\n` };
  const lines: (string | Buffer)[] = [
    `Name: ${o.name}`,
    `Version: ${o.version ?? '1.0'}`,
    `Release: ${o.release ?? '1'}`,
    ...(o.epoch !== undefined ? [`Epoch: ${o.epoch}`] : []),
    Buffer.concat([Buffer.from('Summary: '), Buffer.isBuffer(o.summary) ? o.summary : Buffer.from(o.summary ?? `${o.name} test package`)]),
    'License: MIT',
    ...(arch === 'noarch' ? ['BuildArch: noarch'] : []),
    ...(o.preamble ?? []),
    '%description',
    o.description ?? `${o.name} is a package made by rpmbuild for pkgfleet tests.`,
    '%install',
    ...Object.entries(files).flatMap(([p, c]) => [
      `mkdir -p ${q(`%{buildroot}${p.slice(0, p.lastIndexOf('/'))}`)}`,
      `printf '%s' ${q(c)} > ${q(`%{buildroot}${p}`)}`,
    ]),
    ...(o.install ?? []),
    '%files',
    ...Object.keys(files).map((p) => q(p)),
    ...(o.fileLines ?? []),
    ...(o.changelog?.length ? ['%changelog', ...o.changelog.flatMap(([d, a, t]) => [`* ${d} ${a}`, `- ${t}`, ''])] : []),
  ];
  const spec = join(top, 'SPECS', `${o.name}.spec`);
  await writeFile(spec, Buffer.concat(lines.map((l) => Buffer.concat([Buffer.isBuffer(l) ? l : Buffer.from(l), Buffer.from('\n')]))));
  // rpm >= 4.17 stops on non-UTF-8 text unless told (packages from older builders have Latin-1)
  const args = ['--define', `_topdir ${top}`, '--define', '_invalid_encoding_terminates_build 0', '--define', '_build_id_links none', '--define', '__os_install_post %{nil}', '--nodeps', '-bb', spec];
  if (arch !== 'noarch') args.unshift('--target', arch);
  try {
    await run('rpmbuild', args, { env: { ...process.env, HOME: top, LC_ALL: 'C' }, maxBuffer: 16 << 20 });
  } catch (err) {
    throw new Error(`rpmbuild ${o.name} failed: ${(err as { stderr?: string }).stderr ?? err}`, { cause: err });
  }
  const rpmDir = join(top, 'RPMS', arch);
  const built = (await readdir(rpmDir)).filter((f) => f.endsWith('.rpm'));
  if (built.length !== 1) throw new Error(`rpmbuild ${o.name}: expected one rpm in ${rpmDir}, found ${built.join(', ')}`);
  return join(rpmDir, built[0]!);
}

/** Build the source rpm of a trivial package (to check that .src.rpm is refused). */
export async function rpmbuildSource(dir: string, name: string): Promise<string> {
  const top = join(dir, `rpmbuild-src-${name}`);
  await mkdir(join(top, 'SPECS'), { recursive: true });
  const spec = join(top, 'SPECS', `${name}.spec`);
  await writeFile(spec, `Name: ${name}\nVersion: 1.0\nRelease: 1\nSummary: source\nLicense: MIT\nBuildArch: noarch\n%description\nsource\n%files\n`);
  await run('rpmbuild', ['--define', `_topdir ${top}`, '-bs', spec], { env: { ...process.env, HOME: top, LC_ALL: 'C' } });
  const srpms = join(top, 'SRPMS');
  return join(srpms, (await readdir(srpms))[0]!);
}

/** Sign with gpg through `rpmsign --addsign` (Debian's rpm wants __gpg set); GNUPGHOME holds the key. */
export async function rpmsignWithGpg(files: string[], gnupgHome: string, keyId: string): Promise<void> {
  await run('rpmsign', ['--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${keyId}`, '--addsign', ...files], {
    env: { ...process.env, GNUPGHOME: gnupgHome, HOME: gnupgHome },
    maxBuffer: 64 << 20,
  });
}

// ---------------------------------------------------------------------------------------------
// the fast generator

const T = {
  FILERDEVS: 1033, FILEMTIMES: 1034, FILEDIGESTS: 1035, FILELINKTOS: 1036, FILEUSERNAME: 1039, FILEGROUPNAME: 1040,
  FILEVERIFYFLAGS: 1045, RPMVERSION: 1064, FILEDEVICES: 1095, FILEINODES: 1096, FILELANGS: 1097, PAYLOADFLAGS: 1126,
  FILEDIGESTALGO: 5011, ENCODING: 5062,
} as const;

/** rpm's lead arch numbers (rpmrc arch_canon) for the arches pkgfleet publishes. */
const ARCHNUM: Record<string, number> = { x86_64: 1, noarch: 1, aarch64: 19 };

export interface GenFile {
  path: string;
  data: Uint8Array;
  mode?: number;
}

export interface GenOptions {
  name: string;
  version?: string;
  release?: string;
  epoch?: number;
  arch?: string;
  summary?: string;
  files?: GenFile[];
  /** [name, flags, version] */
  requires?: [string, number, string][];
  provides?: [string, number, string][];
  buildTime?: number;
  /** Extra main-header entries (tests that need odd headers). */
  extra?: EntryData[];
  /** Bytes of RESERVEDSPACE in the signature header (rpmbuild leaves 4128; 0: none). */
  reservedSpace?: number;
}

function cpioNewc(files: { name: string; data: Uint8Array; mode: number; ino: number; mtime: number }[]): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  const push = (b: Buffer) => { parts.push(b); size += b.length; };
  const pad4 = () => { const p = (4 - (size % 4)) % 4; if (p) push(Buffer.alloc(p)); };
  const hdr = (name: string, mode: number, filesize: number, ino: number, mtime: number) => {
    const f = (n: number) => n.toString(16).padStart(8, '0');
    const nameBytes = Buffer.from(name + '\0');
    push(Buffer.from(`070701${f(ino)}${f(mode)}${f(0)}${f(0)}${f(1)}${f(mtime)}${f(filesize)}${f(0)}${f(0)}${f(0)}${f(0)}${f(nameBytes.length)}${f(0)}`));
    push(nameBytes);
    pad4();
  };
  for (const file of files) {
    hdr(file.name, file.mode, file.data.length, file.ino, file.mtime);
    push(Buffer.from(file.data.buffer, file.data.byteOffset, file.data.length));
    pad4();
  }
  hdr('TRAILER!!!', 0, 0, 0, 0);
  return Buffer.concat(parts, size);
}

/**
 * A binary rpm made without rpmbuild: lead, signature header (SHA1, SHA256, MD5, sizes,
 * reserved space as rpmbuild leaves it) and a main header with what rpm needs to install it.
 */
export function makeRpm(o: GenOptions): Buffer {
  const version = o.version ?? '1.0';
  const release = o.release ?? '1';
  const arch = o.arch ?? 'noarch';
  const mtime = o.buildTime ?? 1_700_000_000;
  const files = (o.files ?? [{ path: `/usr/share/${o.name}/README`, data: Buffer.from(`${o.name}\n`) } as GenFile])
    .map((f, i) => ({ ...f, mode: f.mode ?? 0o100644, ino: i + 1 }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const dirs: string[] = [];
  const dirIndex = new Map<string, number>();
  const basenames: string[] = [];
  const dirindexes: number[] = [];
  for (const f of files) {
    const cut = f.path.lastIndexOf('/') + 1;
    const d = f.path.slice(0, cut);
    if (!dirIndex.has(d)) { dirIndex.set(d, dirs.length); dirs.push(d); }
    dirindexes.push(dirIndex.get(d)!);
    basenames.push(f.path.slice(cut));
  }
  const payloadRaw = cpioNewc(files.map((f) => ({ name: `.${f.path}`, data: f.data, mode: f.mode, ino: f.ino, mtime })));
  const payload = gzipSync(payloadRaw, { level: 1 });
  const evr = `${o.epoch !== undefined ? `${o.epoch}:` : ''}${version}-${release}`;
  const provides = [...(o.provides ?? []), [o.name, 8, evr] as [string, number, string]];
  const requires: [string, number, string][] = [
    ...(o.requires ?? []),
    ['rpmlib(CompressedFileNames)', (1 << 24) | 8 | 2, '3.0.4-1'],
    ['rpmlib(FileDigests)', (1 << 24) | 8 | 2, '4.6.0-1'],
    ['rpmlib(PayloadFilesHavePrefix)', (1 << 24) | 8 | 2, '4.0-1'],
  ];
  const n = files.length;
  const entries: EntryData[] = [
    entry.string(Tag.NAME, o.name),
    entry.string(Tag.VERSION, version),
    entry.string(Tag.RELEASE, release),
    ...(o.epoch !== undefined ? [entry.int32(Tag.EPOCH, [o.epoch])] : []),
    entry.i18n(Tag.SUMMARY, o.summary ?? `${o.name} generated package`),
    entry.i18n(Tag.DESCRIPTION, `${o.name} is generated by pkgfleet's test helper.`),
    entry.int32(Tag.BUILDTIME, [mtime]),
    entry.string(Tag.BUILDHOST, 'pkgfleet.invalid'),
    entry.int32(Tag.SIZE, [files.reduce((s, f) => s + f.data.length, 0)]),
    entry.string(Tag.LICENSE, 'MIT'),
    entry.i18n(Tag.GROUP, 'Unspecified'),
    entry.string(Tag.OS, 'linux'),
    entry.string(Tag.ARCH, arch),
    entry.int32(Tag.FILESIZES, files.map((f) => f.data.length)),
    entry.int16(Tag.FILEMODES, files.map((f) => f.mode)),
    entry.int16(T.FILERDEVS, files.map(() => 0)),
    entry.int32(T.FILEMTIMES, files.map(() => mtime)),
    entry.strings(T.FILEDIGESTS, files.map((f) => createHash('sha256').update(f.data).digest('hex'))),
    entry.strings(T.FILELINKTOS, files.map(() => '')),
    entry.int32(Tag.FILEFLAGS, files.map(() => 0)),
    entry.strings(T.FILEUSERNAME, files.map(() => 'root')),
    entry.strings(T.FILEGROUPNAME, files.map(() => 'root')),
    entry.int32(T.FILEVERIFYFLAGS, files.map(() => 0xffffffff)),
    entry.string(Tag.SOURCERPM, `${o.name}-${version}-${release}.src.rpm`),
    entry.strings(Tag.PROVIDENAME, provides.map((p) => p[0])),
    entry.int32(Tag.REQUIREFLAGS, requires.map((r) => r[1])),
    entry.strings(Tag.REQUIRENAME, requires.map((r) => r[0])),
    entry.strings(Tag.REQUIREVERSION, requires.map((r) => r[2])),
    entry.string(T.RPMVERSION, '4.18.0'),
    entry.int32(T.FILEDEVICES, files.map(() => 1)),
    entry.int32(T.FILEINODES, files.map((f) => f.ino)),
    entry.strings(T.FILELANGS, files.map(() => '')),
    entry.int32(Tag.PROVIDEFLAGS, provides.map((p) => p[1])),
    entry.strings(Tag.PROVIDEVERSION, provides.map((p) => p[2])),
    entry.int32(Tag.DIRINDEXES, dirindexes),
    entry.strings(Tag.BASENAMES, basenames),
    entry.strings(Tag.DIRNAMES, dirs),
    entry.string(Tag.PAYLOADFORMAT, 'cpio'),
    entry.string(Tag.PAYLOADCOMPRESSOR, 'gzip'),
    entry.string(T.PAYLOADFLAGS, '1'),
    entry.int32(T.FILEDIGESTALGO, [8]),
    entry.string(T.ENCODING, 'utf-8'),
    entry.strings(Tag.PAYLOADDIGEST, [createHash('sha256').update(payload).digest('hex')]),
    entry.int32(Tag.PAYLOADDIGESTALGO, [8]),
    ...(o.extra ?? []),
  ];
  if (n === 0) throw new Error('makeRpm: at least one file');
  const header = encodeHeader(entries, Tag.HEADERIMMUTABLE);
  const sigEntries: EntryData[] = [
    entry.string(SigTag.SHA1, createHash('sha1').update(header).digest('hex')),
    entry.string(SigTag.SHA256, createHash('sha256').update(header).digest('hex')),
    entry.int32(SigTag.SIZE, [header.length + payload.length]),
    entry.bin(SigTag.MD5, createHash('md5').update(header).update(payload).digest()),
    entry.int32(SigTag.PAYLOADSIZE, [payloadRaw.length]),
    ...((o.reservedSpace ?? 4128) > 0 ? [entry.bin(SigTag.RESERVEDSPACE, new Uint8Array(o.reservedSpace ?? 4128))] : []),
  ];
  const sig = encodeHeader(sigEntries, Tag.HEADERSIGNATURES);
  const lead = Buffer.alloc(96);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3, 0, 0, 0], 0);
  lead.writeUInt16BE(ARCHNUM[arch] ?? 1, 8);
  lead.write(`${o.name}-${version}-${release}`.slice(0, 65), 10, 'latin1');
  lead.writeUInt16BE(1, 76);
  lead.writeUInt16BE(5, 78);
  const pad = Buffer.alloc((8 - (sig.length % 8)) % 8);
  return Buffer.concat([lead, sig, pad, header, payload]);
}

/** `count` generated rpms of about `size` bytes each (incompressible content), spread over arches. */
export async function writeGeneratedRpms(dir: string, count: number, opts: { size?: number; arches?: string[]; prefix?: string; version?: string } = {}): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const arches = opts.arches ?? ['x86_64', 'aarch64', 'noarch'];
  const size = opts.size ?? 180 * 1024;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const arch = arches[i % arches.length]!;
    const name = `${opts.prefix ?? 'bench'}-${String(i).padStart(4, '0')}`;
    const files: GenFile[] = [
      { path: `/usr/bin/${name}`, data: randomBytes(Math.max(1, size - 6000)), mode: 0o100755 },
      ...Array.from({ length: 12 }, (_, k) => ({ path: `/usr/share/doc/${name}/file-${k}.txt`, data: Buffer.from(`${name} doc ${k}\n`) })),
      { path: `/etc/${name}.conf`, data: Buffer.from('key = value\n') },
    ];
    const rpm = makeRpm({ name, version: opts.version ?? '1.0', release: '1', arch, files, requires: [['bench-common', 8 | 4, '1.0']] });
    const path = join(dir, `${name}-${opts.version ?? '1.0'}-1.${arch}.rpm`);
    await writeFile(path, rpm);
    out.push(path);
  }
  return out;
}
