import { ProtocolError } from '../errors';

/**
 * Names that become path components on the receiver. A name is one path segment: no `/`, no `..`,
 * no NUL or control characters, no leading dot (hidden files and the receiver's own temp names).
 */
const FILE_NAME = /^[A-Za-z0-9_+~%@=,][A-Za-z0-9._+~%@=,-]{0,254}$/;
const RELEASE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const TARGET = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function fileNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'is empty';
  if (name.includes('/')) return 'contains "/"';
  if (name.includes('\0')) return 'contains a NUL byte';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'contains a control character';
  if (name === '.' || name === '..' || name.includes('..')) return 'contains ".."';
  if (name.startsWith('.')) return 'starts with "."';
  if (!FILE_NAME.test(name)) return 'has characters outside A-Z a-z 0-9 . _ + ~ % @ = , - or is longer than 255';
  return undefined;
}

export function isValidFileName(name: string): boolean {
  return fileNameProblem(name) === undefined;
}

export function isValidRelease(release: string): boolean {
  return RELEASE.test(release) && !release.includes('..');
}

export function isValidTarget(target: string): boolean {
  return TARGET.test(target) && !target.includes('..');
}

export function assertFileName(name: string, what = 'file name'): void {
  const problem = fileNameProblem(name);
  if (problem) {
    throw new ProtocolError('E_BAD_NAME', `${what} ${JSON.stringify(name)} ${problem}`, 'rename the file: names are single path segments of letters, digits and . _ + ~ % @ = , -');
  }
}
