import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { initModule, unxzAsync, xzAsync } from 'node-liblzma/wasm';
import { FormatError } from '../errors';

/**
 * xz (.xz container, LZMA2) through liblzma compiled to WebAssembly (node-liblzma's wasm build):
 * native addons do not load in the shipped single executables, WebAssembly does.
 *
 * The .wasm binary comes from the bundle when there is one (scripts/lib/bundle.mjs loads `.wasm`
 * imports as bytes, so the executable carries it), else from node_modules (tests, dev runs).
 */
let ready: Promise<unknown> | undefined;

async function wasmBinary(): Promise<Uint8Array> {
  try {
    const { bytes } = await import('./liblzma-wasm.cjs');
    if (bytes instanceof Uint8Array) return bytes;
  } catch {
    // not bundled: Node (or vite) cannot import a .wasm file as bytes; read the file instead
  }
  const require = createRequire(import.meta.url);
  return new Uint8Array(await readFile(require.resolve('node-liblzma/wasm/liblzma.wasm')));
}

function init(): Promise<unknown> {
  ready ??= initModule(async () => {
    const bytes = await wasmBinary();
    const { default: createLZMA } = (await import('node-liblzma/wasm/liblzma.js')) as unknown as {
      default: (opts: { wasmBinary: ArrayBuffer }) => Promise<Awaited<ReturnType<typeof initModule>>>;
    };
    return createLZMA({ wasmBinary: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
  }).catch((err: unknown) => {
    ready = undefined;
    throw new FormatError('E_XZ_INIT', `xz: cannot load liblzma WebAssembly (${(err as Error).message})`, 'reinstall pkgfleet: the executable lacks its liblzma.wasm asset', { cause: err });
  });
  return ready;
}

/**
 * Start loading liblzma now (the WebAssembly compiles off this thread) so that a later
 * xzCompress does not wait for it. A failure surfaces at that later call.
 */
export function xzPreload(): void {
  init().catch(() => {});
}

/** Compress `data` to an .xz stream (CRC64 check, like xz(1)). Deterministic for the same preset. */
export async function xzCompress(data: Uint8Array, preset = 6): Promise<Uint8Array> {
  await init();
  return xzAsync(data, { preset });
}

/** Decompress an .xz stream; `what` names the data in errors. */
export async function xzDecompress(data: Uint8Array, what = 'xz data'): Promise<Uint8Array> {
  await init();
  try {
    return await unxzAsync(data);
  } catch (err) {
    throw new FormatError('E_XZ_DATA', `${what}: not valid xz data (${(err as Error).message})`, undefined, { cause: err });
  }
}
