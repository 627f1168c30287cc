// Helpers of the yum benchmark, bundled by scripts/bench/yum.mjs with esbuild (they import the
// sources of @pkgfleet/shared, which Node cannot run directly):
//   generate DIR COUNT [PREFIX] [VERSION]   COUNT rpms of ~180 KiB (x86_64, aarch64, noarch)
//   repodata KEY DIR...                     repodata/ for each DIR of (signed) rpms, the work
//                                           createrepo_c does: read every rpm, checksum it,
//                                           write primary/filelists/other, repomd.xml(.asc)
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  filelistsHead, FILELISTS_TAIL, filelistsPackage, loadSigner, otherHead, OTHER_TAIL, otherPackage, packageFromRpm,
  primaryHead, PRIMARY_TAIL, primaryPackage, readRpm, repodataFileName, repomdXml, type RepomdRecord, type RepodataType,
} from '@pkgfleet/shared';
import { writeGeneratedRpms } from '../../../test/helpers/rpms';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function repodata(keyFile: string, dirs: string[]): Promise<void> {
  const signer = await loadSigner(await readFile(keyFile, 'utf8'), undefined);
  const now = Math.floor(Date.now() / 1000);
  const buffer = Buffer.allocUnsafe(8 << 20);
  for (const dir of dirs) {
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.rpm')).sort();
    // plain synchronous reads into one reused buffer: a batch job over small files
    const frags = files.map((f) => {
      const path = join(dir, f);
      const fd = openSync(path, 'r');
      let bytes: Buffer;
      let mtime: number;
      try {
        const st = fstatSync(fd);
        mtime = Math.floor(st.mtimeMs / 1000);
        bytes = st.size <= buffer.length ? buffer.subarray(0, readSync(fd, buffer, 0, st.size, 0)) : readFileSync(path);
      } finally {
        closeSync(fd);
      }
      const pkg = packageFromRpm(readRpm(bytes, path));
      const pf = { href: f, sha256: sha256(bytes), size: bytes.length, mtime };
      return { primary: primaryPackage(pkg, pf), filelists: filelistsPackage(pkg, pf), other: otherPackage(pkg, pf) };
    });
    await mkdir(join(dir, 'repodata'), { recursive: true });
    const records: RepomdRecord[] = [];
    for (const [type, head, tail] of [['primary', primaryHead, PRIMARY_TAIL], ['filelists', filelistsHead, FILELISTS_TAIL], ['other', otherHead, OTHER_TAIL]] as const) {
      const text = Buffer.from(head(files.length) + frags.map((f) => f[type]).join('') + tail);
      const gz = gzipSync(text, { level: 4 });
      const checksum = sha256(gz);
      const href = `repodata/${repodataFileName(type as RepodataType, checksum)}`;
      await writeFile(join(dir, href), gz);
      records.push({ type: type as RepodataType, href, checksum, size: gz.length, openChecksum: sha256(text), openSize: text.length, timestamp: now });
    }
    const repomd = Buffer.from(repomdXml(now, records));
    await writeFile(join(dir, 'repodata/repomd.xml'), repomd);
    await writeFile(join(dir, 'repodata/repomd.xml.asc'), await signer.signDetachedArmored(repomd));
  }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'generate') {
  await writeGeneratedRpms(args[0]!, Number(args[1]), { prefix: args[2], version: args[3] });
} else if (cmd === 'repodata') {
  const t0 = performance.now();
  await repodata(args[0]!, args.slice(1));
  console.log(JSON.stringify({ ms: Math.round(performance.now() - t0) }));
} else {
  console.error('usage: yum-tools generate DIR COUNT [PREFIX] [VERSION] | repodata KEY DIR...');
  process.exit(2);
}
