/**
 * The engine module as the managed directory sees it under bench/legacy-scrypt-hook.mjs: the real
 * one, with the verified-password cache off (every bind verifies its password).
 */
import { createDirectoryEngine as createRealEngine } from '../src/directory/managed/engine/engine.ts';

export * from '../src/directory/managed/engine/engine.ts';

export const createDirectoryEngine: typeof createRealEngine = (options) => {
  process.stderr.write(`rush shim: managed directory engine with the verified-password cache off; hasher: ${options.passwordHasher?.description ?? 'default'}\n`);
  return createRealEngine({ ...options, passwordCache: { maxEntries: 0 } });
};
