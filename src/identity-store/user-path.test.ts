import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { user } from '../../test/federation/saml-fixtures.ts';
import { USER_PATHS, compileUserPathTemplate } from './user-path.ts';

describe('${path:…} templates', () => {
  const alice = user();

  it('reads the SCIM paths Identity Center uses, filters included', () => {
    const value = (template: string) => compileUserPathTemplate(template, 'test')(alice);
    assert.equal(value('${path:userName}'), 'alice@corp.example.test');
    assert.equal(value('${path:name.givenName}'), 'Zoë');
    assert.equal(value('${path:emails[primary eq true].value}'), 'alice@corp.example.test');
    assert.equal(value('${path:emails[type eq "work"].value}'), 'alice@corp.example.test');
    assert.equal(value('${path:enterprise.department}'), 'R&D <core>');
    assert.equal(value('team-${ path:enterprise.department }'), 'team-R&D <core>');
    assert.equal(value('plain text'), 'plain text');
  });

  it('a missing value gives no value at all, not the literal parts', () => {
    assert.equal(compileUserPathTemplate('cc-${path:enterprise.costCenter}', 'test')(alice), null);
    assert.equal(compileUserPathTemplate('${path:emails[primary eq true].value}', 'test')(user({ email: null })), null);
  });

  it('refuses unknown paths and other namespaces, naming the setting', () => {
    for (const template of ['${path:password}', '${path:emails[primary eq false].value}', '${user:email}', '${path:constructor}', '${path:__proto__}']) {
      assert.throws(() => compileUserPathTemplate(template, 'federation.aws.accessControlAttributes.X'), (error: Error) => error.message.startsWith('federation.aws.accessControlAttributes.X: '), template);
    }
    assert.ok(USER_PATHS.includes('enterprise.manager.value'));
  });
});
