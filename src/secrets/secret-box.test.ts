import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isAppError } from '#src/shared/errors.ts';
import { createSecretBox } from './secret-box.ts';

const PLAINTEXT = 'Service-Account-Pa55!';

function decryptFailed(error: unknown): boolean {
  assert.ok(isAppError(error, 'secrets.decrypt_failed'), `expected secrets.decrypt_failed, got ${String(error)}`);
  // Nothing about the plaintext may travel with the error.
  assert.ok(!`${error.message} ${JSON.stringify(error.details)}`.includes(PLAINTEXT));
  assert.equal(error.cause, undefined);
  return true;
}

void describe('createSecretBox', () => {
  void it('opens what it sealed, including empty and non-ASCII text', () => {
    const box = createSecretBox(randomBytes(32));
    for (const text of [PLAINTEXT, '', 'pässwörd ✓ 🔑', 'x'.repeat(10_000)]) {
      assert.equal(box.open(box.seal(text)), text);
    }
  });

  void it('writes the versioned format v1.<iv>.<tag>.<ciphertext> in base64url, without the plaintext', () => {
    const sealed = createSecretBox(randomBytes(32)).seal(PLAINTEXT);
    const [version, iv, tag, ciphertext, ...rest] = sealed.split('.');
    assert.equal(version, 'v1');
    assert.equal(Buffer.from(iv ?? '', 'base64url').length, 12);
    assert.equal(Buffer.from(tag ?? '', 'base64url').length, 16);
    assert.equal(Buffer.from(ciphertext ?? '', 'base64url').length, Buffer.byteLength(PLAINTEXT));
    assert.deepEqual(rest, []);
    assert.match(sealed, /^[\w.-]+$/);
    assert.ok(!sealed.includes(PLAINTEXT) && !sealed.includes(Buffer.from(PLAINTEXT).toString('base64url')));
  });

  void it('uses a fresh IV each time, so equal secrets do not look equal', () => {
    const box = createSecretBox(randomBytes(32));
    assert.notEqual(box.seal(PLAINTEXT), box.seal(PLAINTEXT));
  });

  void it('refuses another key', () => {
    const sealed = createSecretBox(randomBytes(32)).seal(PLAINTEXT);
    assert.throws(() => createSecretBox(randomBytes(32)).open(sealed), decryptFailed);
  });

  void it('refuses any altered part', () => {
    const box = createSecretBox(randomBytes(32));
    const parts = box.seal(PLAINTEXT).split('.');
    for (let index = 1; index < parts.length; index++) {
      const bytes = Buffer.from(parts[index] ?? '', 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 0x01;
      const altered = parts.map((part, i) => (i === index ? bytes.toString('base64url') : part)).join('.');
      assert.throws(() => box.open(altered), decryptFailed, `part ${index}`);
    }
  });

  void it('refuses malformed input: wrong version, missing parts, truncated tag', () => {
    const box = createSecretBox(randomBytes(32));
    const [, iv, tag, ciphertext] = box.seal(PLAINTEXT).split('.');
    for (const sealed of [
      `v2.${iv}.${tag}.${ciphertext}`,
      `v1.${iv}.${tag}`,
      `v1.${iv}.${tag}.${ciphertext}.extra`,
      `v1.${iv}.${(tag ?? '').slice(0, 8)}.${ciphertext}`,
      '',
      PLAINTEXT,
    ]) {
      assert.throws(() => box.open(sealed), decryptFailed, sealed);
    }
  });

  void it('binds a sealed value to its context', () => {
    const box = createSecretBox(randomBytes(32));
    const sealed = box.seal(PLAINTEXT, 'directory_connections:corp');
    assert.equal(box.open(sealed, 'directory_connections:corp'), PLAINTEXT);
    assert.throws(() => box.open(sealed, 'directory_connections:lab'), decryptFailed);
    assert.throws(() => box.open(sealed), decryptFailed);
  });

  void it('refuses a key that is not 32 bytes', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      assert.throws(() => createSecretBox(randomBytes(length)), (error) => isAppError(error, 'secrets.key_invalid'));
    }
  });

  void it('keeps its own copy of the key', () => {
    const key = randomBytes(32);
    const box = createSecretBox(key);
    const sealed = box.seal(PLAINTEXT);
    key.fill(0);
    assert.equal(box.open(sealed), PLAINTEXT);
  });
});
