import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Account, PermissionSet } from '#src/access/model.ts';
import { user } from '../../test/federation/saml-fixtures.ts';
import { AWS_SAML_AUDIENCE, AWS_SIGN_IN_URL, createAwsFederation } from './aws.ts';

const account: Account = { id: '111122223333', name: 'Production', email: 'prod@example.test', tags: {} };
const permissionSet = { id: 'ps-1', name: 'ReadOnly', sessionDuration: 'PT4H', relayState: 'https://console.aws.amazon.com/s3', tags: {} } as unknown as PermissionSet;

describe('AWS account assertions', () => {
  it('Role, RoleSessionName, SessionDuration and session tags in the shape AWS accepts', () => {
    const aws = createAwsFederation({ samlProviderName: 'Portico', roleName: '{permissionSet}', accessControlAttributes: { Department: '${path:enterprise.department}', CostCenter: '${path:enterprise.costCenter}' } });
    const signIn = aws.signIn(account, permissionSet, user());
    const values = Object.fromEntries(signIn.attributes.map((a) => [a.name.replace('https://aws.amazon.com/SAML/Attributes/', ''), a.values]));
    assert.deepEqual(values, {
      Role: ['arn:aws:iam::111122223333:role/ReadOnly,arn:aws:iam::111122223333:saml-provider/Portico'],
      RoleSessionName: ['alice@corp.example.test'],
      SessionDuration: ['14400'],
      'PrincipalTag:Department': ['R&D <core>'],
    });
    assert.ok(signIn.attributes.every((a) => a.nameFormat === 'uri'));
    assert.equal(signIn.application.entityId, AWS_SAML_AUDIENCE);
    assert.equal(signIn.signInUrl, AWS_SIGN_IN_URL);
    assert.equal(signIn.relayState, 'https://console.aws.amazon.com/s3');
    assert.equal(aws.signIn({ ...account, signInUrl: 'https://signin.other-cloud.example/saml' }, permissionSet, user()).signInUrl, 'https://signin.other-cloud.example/saml');
  });

  it('role naming: placeholders and a path; a name IAM would refuse is an error', () => {
    assert.equal(createAwsFederation({ samlProviderName: 'P', roleName: 'sso/{accountId}/Portico-{permissionSet}', accessControlAttributes: {} }).roleArn(account, permissionSet), 'arn:aws:iam::111122223333:role/sso/111122223333/Portico-ReadOnly');
    const tooLong = createAwsFederation({ samlProviderName: 'P', roleName: `${'x'.repeat(60)}{permissionSet}`, accessControlAttributes: {} });
    assert.throws(() => tooLong.roleArn(account, permissionSet), /not an IAM role name/);
    const bad = createAwsFederation({ samlProviderName: 'P', roleName: 'a b {permissionSet}', accessControlAttributes: {} });
    assert.throws(() => bad.roleArn(account, permissionSet), { code: 'federation.role_name_invalid' });
  });

  it('a bad ${path:…} stops at creation, naming the key', () => {
    assert.throws(() => createAwsFederation({ samlProviderName: 'P', roleName: '{permissionSet}', accessControlAttributes: { Team: '${path:team}' } }), /federation\.aws\.accessControlAttributes\.Team/);
  });
});
