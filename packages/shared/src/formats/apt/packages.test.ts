import { describe, expect, it } from 'vitest';
import { packagesStanza } from './packages';

const FILE = { size: 1234, md5: 'm', sha1: 's1', sha256: 's256', sha512: 's512' };

describe('packagesStanza', () => {
  it('orders fields as apt-ftparchive does, unknown ones after in their own order, and puts the archive fields in', () => {
    const text = packagesStanza([
      { name: 'Package', value: 'hello' },
      { name: 'Version', value: '1.0-1' },
      { name: 'X-Zeta', value: 'z' },
      { name: 'Architecture', value: 'amd64' },
      { name: 'Maintainer', value: 'M <m@example.com>' },
      { name: 'Description', value: 'greets\n more text\n .\n end' },
      { name: 'X-Alpha', value: 'a' },
      { name: 'Depends', value: 'libc6' },
      { name: 'Homepage', value: 'https://example.com' },
    ], 'pool/main/h/hello/hello_1.0-1_amd64.deb', FILE);
    expect(text).toBe([
      'Package: hello', 'Architecture: amd64', 'Version: 1.0-1', 'Maintainer: M <m@example.com>', 'Depends: libc6',
      'Filename: pool/main/h/hello/hello_1.0-1_amd64.deb', 'Size: 1234', 'MD5sum: m', 'SHA1: s1', 'SHA256: s256', 'SHA512: s512',
      'Homepage: https://example.com', 'Description: greets', ' more text', ' .', ' end', 'X-Zeta: z', 'X-Alpha: a', '',
    ].join('\n'));
  });

  it('drops the package\'s own copy of archive fields, whatever their case, and ranks known fields case-insensitively', () => {
    const text = packagesStanza([
      { name: 'package', value: 'p' },
      { name: 'SIZE', value: '999' },
      { name: 'Filename', value: 'elsewhere.deb' },
      { name: 'md5sum', value: 'bad' },
      { name: 'Status', value: 'install ok installed' },
      { name: 'description', value: 'd' },
      { name: 'VERSION', value: '2' },
    ], 'pool/main/p/p/p_2_all.deb', FILE);
    expect(text).toBe('package: p\nVERSION: 2\nFilename: pool/main/p/p/p_2_all.deb\nSize: 1234\nMD5sum: m\nSHA1: s1\nSHA256: s256\nSHA512: s512\ndescription: d\n');
  });
});
