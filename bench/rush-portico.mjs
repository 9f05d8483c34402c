#!/usr/bin/env node
// bin/portico.js for the morning-rush bench, with bench/legacy-scrypt-hook.mjs: the managed directory
// without its verified-password cache, and with RUSH_LEGACY_SCRYPT=1 the pre-issue-21 scrypt hasher.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
registerHooks('./legacy-scrypt-hook.mjs', import.meta.url);
await import('../src/main.ts');
