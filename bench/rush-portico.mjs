#!/usr/bin/env node
// bin/portico.js for the morning-rush bench: with RUSH_LEGACY_SCRYPT=1, the managed directory hashes
// with the pre-issue-21 scrypt (bench/legacy-scrypt-hook.mjs); otherwise it is bin/portico.js.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
if (process.env.RUSH_LEGACY_SCRYPT === '1') registerHooks('./legacy-scrypt-hook.mjs', import.meta.url);
await import('../src/main.ts');
