import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { loadSigner, type Signer } from '@pkgfleet/shared';

/**
 * A small signed repository tree for repo-agent tests, written with our Signer: an apt part
 * (pool/, dists/<suite>/ with Packages, by-hash, Release, InRelease, Release.gpg) and a yum part
 * (repodata/ with a hash-named primary and repomd.xml.asc). The package files are placeholder
 * bytes: the repo-agent checks hashes and signatures, not package contents. Real packages for
 * apt-get/dnf come from `orchestrator-agent repo publish`.
 */

export interface TestKey {
  signer: Signer;
  publicKeyArmored: string;
}

export async function makeTestKey(name = 'pkgfleet test'): Promise<TestKey> {
  const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name, email: 'test@pkgfleet.invalid' }], format: 'armored' });
  const signer = await loadSigner(privateKey, undefined, name);
  return { signer, publicKeyArmored: signer.publicKeyArmored() };
}

export interface TreeOptions {
  /** How many packages (default 3). */
  packages?: number;
  /** Bytes per package file (default 2048). */
  packageSize?: number;
  /** Package indexes whose content (and version) differ: "one package changed". */
  changed?: number[];
  /** Mixed into every package's content, so two variants share nothing. */
  variant?: string;
  suite?: string;
  /** Written into Release (Date:), so metadata differs between builds. */
  date?: Date;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

async function put(root: string, rel: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(join(root, rel)), { recursive: true });
  await writeFile(join(root, rel), data);
}

function packageBytes(name: string, version: string, variant: string, size: number): Buffer {
  const seed = `${name} ${version} ${variant}\n`;
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Write the tree under `root`; returns the paths of the package files. */
export async function writeSignedTree(root: string, signer: Signer, opts: TreeOptions = {}): Promise<{ debs: string[]; rpms: string[] }> {
  const n = opts.packages ?? 3;
  const size = opts.packageSize ?? 2048;
  const suite = opts.suite ?? 'stable';
  const variant = opts.variant ?? '';
  const changed = new Set(opts.changed ?? []);
  const date = (opts.date ?? new Date('2026-01-01T00:00:00Z')).toUTCString().replace('GMT', 'UTC');
  const debs: string[] = [];
  const rpms: string[] = [];
  const stanzas: string[] = [];
  const primary: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `pkg${i}`;
    const version = changed.has(i) ? '1.1' : '1.0';
    const deb = packageBytes(name, version, variant + 'deb', size);
    const debPath = `pool/main/p/${name}/${name}_${version}_amd64.deb`;
    await put(join(root, 'apt'), debPath, deb);
    debs.push(`apt/${debPath}`);
    stanzas.push(`Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: Test <test@pkgfleet.invalid>\nFilename: ${debPath}\nSize: ${deb.length}\nSHA256: ${sha256(deb)}\nDescription: test package ${i}\n`);
    const rpm = packageBytes(name, version, variant + 'rpm', size);
    const rpmPath = `Packages/${name}-${version}-1.x86_64.rpm`;
    await put(join(root, 'rpm', suite, 'x86_64'), rpmPath, rpm);
    rpms.push(`rpm/${suite}/x86_64/${rpmPath}`);
    primary.push(`<package type="rpm"><name>${name}</name><arch>x86_64</arch><version epoch="0" ver="${version}" rel="1"/><checksum type="sha256" pkgid="YES">${sha256(rpm)}</checksum><size package="${rpm.length}"/><location href="${rpmPath}"/></package>`);
  }

  // apt: Packages (+ .gz), by-hash copies, Release, InRelease, Release.gpg.
  const packages = Buffer.from(stanzas.join('\n'));
  const packagesGz = gzipSync(packages, { level: 9 });
  const comp = `dists/${suite}/main/binary-amd64`;
  const indexes: [string, Buffer][] = [
    ['main/binary-amd64/Packages', packages],
    ['main/binary-amd64/Packages.gz', packagesGz],
  ];
  for (const [rel, data] of indexes) {
    await put(join(root, 'apt'), `dists/${suite}/${rel}`, data);
    await put(join(root, 'apt'), `${comp}/by-hash/SHA256/${sha256(data)}`, data);
  }
  const release =
    `Origin: pkgfleet-test\nLabel: pkgfleet-test\nSuite: ${suite}\nCodename: ${suite}\nDate: ${date}\nArchitectures: amd64\nComponents: main\nAcquire-By-Hash: yes\nSHA256:\n` +
    indexes.map(([rel, data]) => ` ${sha256(data)} ${String(data.length).padStart(8)} ${rel}\n`).join('');
  await put(join(root, 'apt'), `dists/${suite}/Release`, release);
  await put(join(root, 'apt'), `dists/${suite}/InRelease`, await signer.clearSign(release));
  await put(join(root, 'apt'), `dists/${suite}/Release.gpg`, await signer.signDetachedArmored(Buffer.from(release)));

  // yum: hash-named primary, repomd.xml, repomd.xml.asc.
  const primaryXml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" packages="${n}">\n${primary.join('\n')}\n</metadata>\n`);
  const primaryGz = gzipSync(primaryXml, { level: 9 });
  const primaryName = `repodata/${sha256(primaryGz)}-primary.xml.gz`;
  const base = join(root, 'rpm', suite, 'x86_64');
  await put(base, primaryName, primaryGz);
  const repomd =
    `<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">\n  <revision>${date}</revision>\n` +
    `  <data type="primary">\n    <checksum type="sha256">${sha256(primaryGz)}</checksum>\n    <open-checksum type="sha256">${sha256(primaryXml)}</open-checksum>\n` +
    `    <location href="${primaryName}"/>\n    <size>${primaryGz.length}</size>\n    <open-size>${primaryXml.length}</open-size>\n  </data>\n</repomd>\n`;
  await put(base, 'repodata/repomd.xml', repomd);
  await put(base, 'repodata/repomd.xml.asc', await signer.signDetachedArmored(Buffer.from(repomd)));
  return { debs, rpms };
}
