// The ceiling for pushes: a plain TLS 1.3 (PSK) stream between two Node processes, file to file,
// with the receiver writing to disk and fsyncing like the orchestrator does. No hashing, no framing.
// Same cipher preference as packages/shared/src/transport/tls.ts, so both negotiate the same suite.
const tls = require('node:tls');
const fs = require('node:fs');
const key = Buffer.alloc(32, 3);
const opts = { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384' };
const [mode, a, b] = process.argv.slice(2);
if (mode === 'server') {
  const out = a;
  const srv = tls.createServer({ ...opts, pskCallback: () => key }, (s) => {
    const f = fs.createWriteStream(out);
    s.pipe(f);
    f.on('finish', () => {
      const fd = fs.openSync(out, 'r');
      fs.fsyncSync(fd);
      process.exit(0);
    });
  });
  srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
} else {
  const port = Number(a);
  const files = b.split(',');
  const s = tls.connect({ ...opts, host: '127.0.0.1', port, pskCallback: () => ({ psk: key, identity: 'bench' }), checkServerIdentity: () => undefined }, async () => {
    for (const f of files) {
      for await (const chunk of fs.createReadStream(f, { highWaterMark: 1 << 20 })) {
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    }
    s.end();
  });
}
