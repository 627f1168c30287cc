import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './agents';
import { freePort, waitFor } from './net';

/**
 * The real nginx (Debian) running deploy/nginx/pkgfleet.conf as shipped, with only its root and
 * listen address substituted, on 127.0.0.1 with its own prefix under `dir`.
 */
export interface Nginx {
  url: string;
  child: ChildProcess;
  config: string;
  stop(): Promise<void>;
}

export const NGINX_CONF = join(REPO_ROOT, 'deploy', 'nginx', 'pkgfleet.conf');

export async function startNginx(dir: string, root: string): Promise<Nginx> {
  const shipped = await readFile(NGINX_CONF, 'utf8');
  const port = await freePort();
  const server = shipped
    .replace(/^\s*root \/srv\/pkgfleet\/current;$/m, `    root ${root};`)
    .replace(/^\s*listen 80;$/m, `    listen 127.0.0.1:${port};`)
    .replace(/^\s*listen \[::\]:80;\n/m, '');
  if (!server.includes(`root ${root};`) || !server.includes(`127.0.0.1:${port}`)) throw new Error(`${NGINX_CONF}: root or listen line not found`);
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await writeFile(join(dir, 'pkgfleet.conf'), server);
  const config = join(dir, 'nginx.conf');
  await writeFile(
    config,
    `daemon off;
master_process off;
# Test dirs are mkdtemp (0700) and owned by root: the worker stays root here.
user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  include ${dir}/pkgfleet.conf;
}
`,
  );
  const child = spawn('nginx', ['-p', dir, '-c', config, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${err}${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
      return fetch(url + '/').then(() => true, () => false);
    },
    'nginx listening',
  );
  return {
    url,
    child,
    config,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
