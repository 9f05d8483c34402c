import assert from 'node:assert/strict';
import { it } from 'node:test';
import { AppError } from '#src/shared/errors.ts';
import { redactDetails } from './redact.ts';

void it('drops keys named like secrets, at any depth, and keeps everything else', () => {
  assert.deepEqual(
    redactDetails({
      username: 'alice@corp.example.test',
      password: 'x',
      newPassword: 'x',
      nested: { client_secret: 'x', refreshToken: 'x', keep: 1, deeper: [{ apiKey: 'x', url: 'ldaps://dc1' }] },
    }),
    { username: 'alice@corp.example.test', nested: { keep: 1, deeper: [{ url: 'ldaps://dc1' }] } },
  );
});

void it('turns values into plain JSON without stringifying objects that may embed secrets', () => {
  const error = new AppError('directory.unreachable', 'bind with password hunter2 failed');
  const result = redactDetails({
    when: new Date('2026-01-01T00:00:00.000Z'),
    error,
    plain: new Error('contains hunter2'),
    big: 12n,
    nan: Number.NaN,
    skipped: undefined,
    fn: () => 1,
    bytes: Buffer.from('hunter2'),
    url: new URL('ldaps://svc:hunter2@dc1'),
    list: [undefined, 1],
  });
  assert.deepEqual(result, {
    when: '2026-01-01T00:00:00.000Z',
    error: { error: 'AppError', code: 'directory.unreachable' },
    plain: { error: 'Error' },
    big: '12',
    nan: 'NaN',
    bytes: '[binary 7 bytes]',
    url: '[URL]',
    list: [null, 1],
  });
  assert.doesNotMatch(JSON.stringify(result), /hunter2/);
});

void it('survives cycles and absurd depth, and keeps shared (non-cyclic) references', () => {
  const cyclic: Record<string, unknown> = { name: 'a' };
  cyclic.self = cyclic;
  const shared = { n: 1 };
  let deep: Record<string, unknown> = { end: true };
  for (let i = 0; i < 20; i++) deep = { deep };
  const result = redactDetails({ cyclic, left: shared, right: shared, deep });
  assert.deepEqual(result.cyclic, { name: 'a', self: '[circular]' });
  assert.deepEqual(result.left, { n: 1 });
  assert.deepEqual(result.right, { n: 1 });
  assert.match(JSON.stringify(result.deep), /\[too deep\]/);
});
