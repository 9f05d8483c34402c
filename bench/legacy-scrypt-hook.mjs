/**
 * Module hook for the morning-rush bench (bench/rush.bench.ts), registered by
 * bench/rush-portico.mjs after tsx so that it sees the specifiers first. In `portico start` it
 * points the managed directory's (src/directory/managed/index.ts) imports at bench shims:
 * - ./engine/engine.ts → bench/rush-engine.ts: the verified-password cache off, so that every
 *   sign-in verifies a password, as a first bind of the day does (the bench's users share one
 *   hash, which the cache, keyed by hash and password, would otherwise recognise);
 * - ./engine/password.ts → bench/legacy-scrypt-password.ts when RUSH_LEGACY_SCRYPT=1: the
 *   pre-issue-21 hasher (scrypt N=2^15, r=8, p=1, ungated), which no setting can ask for
 *   (passwordHashing is configurable upwards only).
 */
/* global process, URL -- a Node.js module hook, outside the TypeScript project */
const shims = {
  './engine/engine.ts': './rush-engine.ts',
  ...(process.env.RUSH_LEGACY_SCRYPT === '1' ? { './engine/password.ts': './legacy-scrypt-password.ts' } : {}),
};

export async function resolve(specifier, context, nextResolve) {
  const shim = shims[specifier];
  if (shim && context.parentURL?.endsWith('/src/directory/managed/index.ts')) return nextResolve(new URL(shim, import.meta.url).href, context);
  return nextResolve(specifier, context);
}
