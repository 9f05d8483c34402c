import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isSecretName } from './secret-names.ts';

void it('recognises secret-like key names in any case or separator style', () => {
  for (const name of ['password', 'bindPassword', 'PASSWD', 'passphrase', 'client_secret', 'secretKey', 'access_token', 'X-Auth-Token', 'apiKey', 'api-key', 'private_key', 'Authorization', 'cookie', 'credentials', 'bind_password_sealed']) {
    assert.equal(isSecretName(name), true, name);
  }
  for (const name of ['username', 'domain', 'pwdLastSet', 'urls', 'key', 'keyId', 'passCount']) {
    assert.equal(isSecretName(name), false, name);
  }
});
