/** Response checking: what the tests rely on to prove every admin response matches its schema. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { checkResponse, route, validateResponsesByDefault } from './api-route.ts';

const definition = route({
  method: 'GET', path: '/things/{id}', operationId: 'getThing', tag: 'test', summary: 'a thing',
  response: z.object({ id: z.string(), at: z.string(), count: z.number().int() }),
  handler: () => Promise.resolve({}),
});

void describe('admin API response checking', () => {
  void it('is on under the test runner', () => {
    assert.equal(validateResponsesByDefault, true);
  });

  void it('accepts a body that matches, as JSON sends it (a Date becomes its ISO string)', () => {
    checkResponse(definition, { id: 'a', at: new Date(0), count: 2, extra: true });
  });

  void it('refuses a body that does not, naming the route and the field', () => {
    assert.throws(() => checkResponse(definition, { id: 'a', at: 'now', count: 'two' }), /GET \/things\/\{id\} \(getThing\).*count/);
    assert.throws(() => checkResponse(definition, undefined), /does not match its schema/);
  });
});
