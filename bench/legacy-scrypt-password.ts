/**
 * The password module as the managed directory sees it under bench/legacy-scrypt-hook.mjs: the
 * real one, except that every hasher is the pre-issue-21 one (`legacyScrypt: true`).
 */
import { createPasswordHasher as createRealHasher } from '../src/directory/managed/engine/password.ts';

export * from '../src/directory/managed/engine/password.ts';

export const createPasswordHasher: typeof createRealHasher = (options = {}) => createRealHasher({ ...options, legacyScrypt: true });
