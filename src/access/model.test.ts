import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '#src/shared/errors.ts';
import { parseInput } from './access-service.ts';
import { accountInput, applicationInput, durationMinutes, permissionSetInput } from './model.ts';

const refused = (schema: Parameters<typeof parseInput>[0], input: unknown, message: RegExp) =>
  assert.throws(() => parseInput(schema, input), (error) => isAppError(error, 'access.invalid') && error.status === 400 && message.test(error.message));

void describe('access model validation', () => {
  it('accepts a full permission set with Identity Center’s defaults', () => {
    const parsed = parseInput(permissionSetInput, { name: 'Admin+Ops=1,2.3@x-y_z', inlinePolicy: JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*' } }) });
    assert.equal(parsed.sessionDuration, 'PT1H');
    assert.deepEqual(parsed.managedPolicies, []);
    assert.deepEqual(parsed.tags, {});
  });

  it('names the field and the rule', () => {
    refused(permissionSetInput, { name: '' }, /^name: required/);
    refused(permissionSetInput, { name: 'x'.repeat(33) }, /name: at most 32/);
    refused(permissionSetInput, { name: 'a b' }, /name: only letters/);
    refused(permissionSetInput, { name: 'a', description: 'd'.repeat(701) }, /description: at most 700/);
    refused(permissionSetInput, { name: 'a', sessionDuration: 'PT30M' }, /sessionDuration: must be between PT1H and PT12H/);
    refused(permissionSetInput, { name: 'a', sessionDuration: '1 hour' }, /sessionDuration: "1 hour" is not an ISO-8601 duration/);
    refused(permissionSetInput, { name: 'a', relayState: 'r'.repeat(241) }, /relayState: at most 240/);
    refused(permissionSetInput, { name: 'a', managedPolicies: Array.from({ length: 21 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`) }, /managedPolicies: at most 20/);
    refused(permissionSetInput, { name: 'a', managedPolicies: ['arn:aws:iam::123456789012:policy/Mine'] }, /AWS managed policy ARN/);
    refused(permissionSetInput, { name: 'a', inlinePolicy: '{' }, /inlinePolicy: not valid JSON/);
    refused(permissionSetInput, { name: 'a', inlinePolicy: '[]' }, /inlinePolicy: must be a JSON object/);
    refused(permissionSetInput, { name: 'a', inlinePolicy: '{"Statement":[{"Effect":"Maybe"}]}' }, /Statement\[0\]\.Effect/);
    refused(permissionSetInput, { name: 'a', inlinePolicy: `{"Statement":[{"Effect":"Allow","Sid":"${'x'.repeat(32_800)}"}]}` }, /inlinePolicy: at most 32768 bytes/);
    refused(permissionSetInput, { name: 'a', customerManagedPolicies: [{ name: 'P', path: 'no-slash' }] }, /path: must start and end with "\/"/);
    refused(permissionSetInput, { name: 'a', unknown: 1 }, /unknown field: unknown/);
    refused(accountInput, { id: '12345678901', name: 'n', email: 'a@b.c' }, /id: an AWS account id is exactly 12 digits/);
    refused(accountInput, { id: '123456789012', name: 'n', email: 'not-mail' }, /email: must be an email address/);
    refused(applicationInput, { name: 'a', entityId: 'e', acsUrls: ['http://sp.example.com/acs'] }, /acsUrls: must be an https URL/);
    refused(applicationInput, { name: 'a', entityId: 'e', acsUrls: ['/relative'] }, /acsUrls: "\/relative" is not an absolute URL/);
    refused(applicationInput, { name: 'a', entityId: 'e', acsUrls: [] }, /acsUrls: at least one/);
    refused(applicationInput, { name: 'a', entityId: 'e', acsUrls: ['https://sp/acs'], attributeMappings: [{ name: 'mail', value: '${user:password}' }] }, /\$\{user:password\} at position 1 is not one of/);
  });

  it('allows http only for loopback service providers', () => {
    const app = parseInput(applicationInput, { name: 'Dev', entityId: 'dev', acsUrls: ['http://127.0.0.1:5000/acs'], attributeMappings: [{ name: 'mail', value: '${user:email}' }] });
    assert.equal(app.nameIdFormat, 'persistent');
    assert.equal(app.attributeMappings[0]?.format, 'unspecified');
  });

  it('reads durations in hours and minutes', () => {
    assert.equal(durationMinutes('PT1H'), 60);
    assert.equal(durationMinutes('PT8H30M'), 510);
    assert.equal(durationMinutes('PT90M'), 90);
    assert.equal(durationMinutes('PT'), null);
    assert.equal(durationMinutes('P1D'), null);
  });
});
