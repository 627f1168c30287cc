import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { xzDecompress } from '../../compress/xz';
import { FormatError } from '../../errors';
import { scanAr, type ArMember } from './ar';
import { tarMembers } from './tar';
import { ControlSyntaxError, fieldValue, parseControl, type Stanza } from './control';
import { versionProblem } from './version';

/**
 * A binary package's control data, read from the start of a .deb (deb(5): ar archive with
 * debian-binary "2.x", control.tar[.gz|.xz|.zst], data.tar.*). Pure: bytes in, record out.
 */
export interface DebControl {
  /** Fields of DEBIAN/control in their order and case. */
  fields: Stanza;
  package: string;
  version: string;
  architecture: string;
  /** Source package name (Source: without its "(version)"), else the package name. */
  source: string;
}

export class DebFormatError extends FormatError {}

export type DebHead = { need: number } | { control: DebControl };

/**
 * A head this long holds the control member of most packages (dpkg writes it right after the
 * 8-byte magic and debian-binary); for the others the reader asks for more.
 */
export const DEB_HEAD_BYTES = 16 * 1024;

/**
 * Read the control data from the first bytes of a .deb of `total` bytes. If `head` is too short,
 * returns how many bytes are needed. `file` names the package in errors.
 */
export async function readDebHead(head: Uint8Array, total: number, file: string): Promise<DebHead> {
  const scan = scanAr(head, total);
  if (!scan.ok) throw new DebFormatError('E_DEB_AR', `${file}: ${scan.problem}`, 'is it a .deb? rebuild it with dpkg-deb');
  const [first] = scan.members;
  if (!first) {
    if (scan.complete) throw new DebFormatError('E_DEB_EMPTY', `${file}: empty ar archive, not a .deb`);
    return { need: 8 + 60 + 64 };
  }
  if (first.name !== 'debian-binary') throw new DebFormatError('E_DEB_FORMAT', `${file}: first member is "${first.name}", not debian-binary`, 'not a Debian binary package');
  if (first.offset + first.size > head.length) return { need: first.offset + first.size };
  const fmt = Buffer.from(head.subarray(first.offset, first.offset + first.size)).toString('latin1');
  if (!/^2\.\d+\n/.test(fmt)) throw new DebFormatError('E_DEB_FORMAT', `${file}: unsupported .deb format version "${fmt.trim()}"`, 'only format 2.x is supported');
  const member = scan.members.find((m) => m.name.startsWith('control.tar'));
  if (!member) {
    if (!scan.complete) return { need: head.length + DEB_HEAD_BYTES };
    throw new DebFormatError('E_DEB_NO_CONTROL', `${file}: no control.tar member`, 'rebuild the package with dpkg-deb');
  }
  if (member.offset + member.size > head.length) return { need: member.offset + member.size };
  const tarBytes = await decompress(member, head.subarray(member.offset, member.offset + member.size), file);
  const text = controlFileFrom(tarBytes, file);
  return { control: parseDebControl(text, file) };
}

async function decompress(m: ArMember, data: Uint8Array, file: string): Promise<Uint8Array> {
  const what = `${file}: ${m.name}`;
  try {
    switch (m.name) {
      case 'control.tar': return data;
      case 'control.tar.gz': return gunzipSync(data);
      case 'control.tar.zst': return zstdDecompressSync(data);
      case 'control.tar.xz': return await xzDecompress(data, what);
    }
  } catch (err) {
    if (err instanceof FormatError) throw new DebFormatError('E_DEB_CONTROL', err.message, undefined, { cause: err });
    throw new DebFormatError('E_DEB_CONTROL', `${what}: cannot decompress (${(err as Error).message})`, 'the package is damaged: rebuild it', { cause: err });
  }
  throw new DebFormatError('E_DEB_CONTROL', `${what}: unsupported compression`, 'dpkg writes control.tar.gz, .xz, .zst or uncompressed');
}

function controlFileFrom(tarBytes: Uint8Array, file: string): string {
  try {
    for (const m of tarMembers(tarBytes)) {
      if (m.name === 'control' && m.type === '0') return Buffer.from(m.data).toString('utf8');
    }
  } catch (err) {
    throw new DebFormatError('E_DEB_CONTROL', `${file}: control.tar is damaged (${(err as Error).message})`, 'rebuild the package', { cause: err });
  }
  throw new DebFormatError('E_DEB_NO_CONTROL', `${file}: control.tar has no "control" file`, 'rebuild the package with dpkg-deb');
}

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const ARCH_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Parse and validate DEBIAN/control text. */
export function parseDebControl(text: string, file: string): DebControl {
  let fields: Stanza;
  try {
    fields = parseControl(text);
  } catch (err) {
    if (err instanceof ControlSyntaxError) throw new DebFormatError('E_DEB_CONTROL', `${file}: control file: ${err.message}`, 'fix DEBIAN/control and rebuild', { cause: err });
    throw err;
  }
  const bad = (msg: string) => new DebFormatError('E_DEB_FIELD', `${file}: control file: ${msg}`, 'fix DEBIAN/control and rebuild');
  for (const required of ['Package', 'Version', 'Architecture', 'Maintainer', 'Description']) {
    const v = fieldValue(fields, required);
    if (v === undefined || v.trim() === '') throw bad(`missing required field ${required}`);
  }
  const pkg = fieldValue(fields, 'Package')!;
  if (!PACKAGE_NAME.test(pkg)) throw bad(`Package "${pkg}" is not a valid package name (lower case letters, digits, + - .)`);
  const version = fieldValue(fields, 'Version')!;
  const problem = versionProblem(version);
  if (problem) throw bad(`Version "${version}": ${problem}`);
  const arch = fieldValue(fields, 'Architecture')!;
  if (!ARCH_NAME.test(arch)) throw bad(`Architecture "${arch}" is not a single architecture name`);
  const sourceField = fieldValue(fields, 'Source');
  const source = sourceField ? sourceField.split(/\s+/)[0]! : pkg;
  if (!PACKAGE_NAME.test(source)) throw bad(`Source "${sourceField}" is not a valid source package name`);
  return { fields, package: pkg, version, architecture: arch, source };
}
