import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { appendSetCookie } from './session.ts';

describe('appendSetCookie', () => {
  it('adds each cookie once, after those already set', async () => {
    const app = Fastify();
    app.get('/', (_request, reply) => {
      appendSetCookie(reply, 'a=1');
      appendSetCookie(reply, 'b=2');
      appendSetCookie(reply, 'c=3');
      return reply.send('ok');
    });
    const response = await app.inject('/');
    // Fastify appends set-cookie by itself: handing it the list back used to repeat a=1 four times.
    assert.deepEqual(response.headers['set-cookie'], ['a=1', 'b=2', 'c=3']);
    await app.close();
  });
});
