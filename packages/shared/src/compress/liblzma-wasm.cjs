// The liblzma .wasm as bytes, for bundles: scripts/lib/bundle.mjs loads .wasm as binary, and a
// require() of it yields the Uint8Array itself. Wrapped in an object so that the bundler's
// ESM interop copies one property, not 100k array indices. Outside a bundle the require throws
// (Node cannot load .wasm as CommonJS) and xz.ts reads the file from node_modules instead.
module.exports = { bytes: require('node-liblzma/wasm/liblzma.wasm') };
