// In the bundle (scripts/lib/bundle.mjs: loader '.wasm' = 'binary') a .wasm import is its bytes.
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
