/** The console's generated API types match docs/openapi.json (run `npm run openapi` after changing a route). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONSOLE_API_TYPES_FILE, generateConsoleApiTypes } from './api-types.ts';

void describe('the console’s API types', () => {
  it('are generated from the checked-in docs/openapi.json (run `npm run openapi` after changing a route)', async () => {
    assert.equal(readFileSync(CONSOLE_API_TYPES_FILE, 'utf8'), await generateConsoleApiTypes());
  });
});
