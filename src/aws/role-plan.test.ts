import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { permissionSetInput, type PermissionSet } from '#src/access/model.ts';
import { desiredRole, describeSteps, INLINE_POLICY_NAME, isPorticoRole, parsePolicyDocument, planRole, roleDigest, rolePathAndName, sameJson, type ObservedRole } from './role-plan.ts';

const permissionSet = (input: Record<string, unknown> = {}): PermissionSet => ({ ...permissionSetInput.parse({ name: 'ReadOnly', ...input }), id: 'ps-1' });
const target = { accountId: '111122223333', providerArn: 'arn:aws:iam::111122223333:saml-provider/Portico', audience: 'https://signin.aws.amazon.com/saml', rolePath: '/portico/', roleName: 'ReadOnly' };
const inline = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] });

/** The role exactly as IAM would report it after a create. */
function observedFrom(ps: PermissionSet): ObservedRole {
  const desired = desiredRole(ps, target);
  return { path: desired.path, arn: desired.arn, description: desired.description, trustPolicy: desired.trustPolicy, maxSessionDuration: desired.maxSessionDuration, attachedPolicyArns: [...desired.attachedPolicyArns], inlinePolicies: { ...desired.inlinePolicies }, boundaryArn: desired.boundaryArn, tags: { ...desired.tags } };
}

void describe('role plan', () => {
  void it('builds the role: reserved path, trust policy naming the provider with SAML:aud, duration, policies, boundary, tags', () => {
    const role = desiredRole(
      permissionSet({ sessionDuration: 'PT8H', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], customerManagedPolicies: [{ name: 'Billing', path: '/team/' }], inlinePolicy: inline, permissionsBoundary: { customerManagedPolicy: { name: 'Boundary' } } }),
      target,
    );
    assert.equal(role.arn, 'arn:aws:iam::111122223333:role/portico/ReadOnly');
    assert.equal(role.path, '/portico/');
    assert.equal(role.maxSessionDuration, 8 * 3600);
    assert.deepEqual(role.attachedPolicyArns, ['arn:aws:iam::111122223333:policy/team/Billing', 'arn:aws:iam::aws:policy/ReadOnlyAccess']);
    assert.equal(role.boundaryArn, 'arn:aws:iam::111122223333:policy/Boundary');
    assert.deepEqual(Object.keys(role.inlinePolicies), [INLINE_POLICY_NAME]);
    const statement = (role.trustPolicy.Statement as Array<Record<string, unknown>>)[0];
    assert.deepEqual(statement?.Principal, { Federated: target.providerArn });
    assert.deepEqual(statement?.Condition, { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } });
    assert.deepEqual(role.tags, { 'portico:managed': 'true', 'portico:permission-set': 'ps-1' });
  });

  void it('puts a path from the configured role name below the reserved path', () => {
    assert.deepEqual(rolePathAndName('/portico/', 'sso/Admin'), { path: '/portico/sso/', name: 'Admin' });
    assert.deepEqual(rolePathAndName('/portico/', 'Admin'), { path: '/portico/', name: 'Admin' });
  });

  void it('creates a missing role with one call per policy', () => {
    const steps = planRole(desiredRole(permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], inlinePolicy: inline }), target), null);
    assert.deepEqual(steps, [{ op: 'createRole' }, { op: 'attachPolicy', arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }, { op: 'putInlinePolicy', name: INLINE_POLICY_NAME }]);
  });

  void it('plans nothing when IAM already holds the role, even with keys reordered and single values unwrapped', () => {
    const ps = permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'], inlinePolicy: inline });
    const observed = observedFrom(ps);
    observed.attachedPolicyArns.reverse();
    observed.inlinePolicies[INLINE_POLICY_NAME] = { Statement: { Resource: '*', Action: 's3:GetObject', Effect: 'Allow' }, Version: '2012-10-17' };
    // IAM returns the trust policy URL-encoded.
    observed.trustPolicy = parsePolicyDocument(encodeURIComponent(JSON.stringify(observed.trustPolicy)));
    assert.deepEqual(planRole(desiredRole(ps, target), observed), []);
  });

  void it('plans only the changed parts of an update', () => {
    const before = permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], inlinePolicy: inline });
    const after = permissionSet({
      sessionDuration: 'PT2H',
      managedPolicies: ['arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'],
      inlinePolicy: inline,
      permissionsBoundary: { managedPolicyArn: 'arn:aws:iam::aws:policy/PowerUserAccess' },
    });
    assert.deepEqual(planRole(desiredRole(after, target), observedFrom(before)), [
      { op: 'updateRole' },
      { op: 'detachPolicy', arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      { op: 'attachPolicy', arn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' },
      { op: 'putBoundary' },
    ]);
    // Removing the inline policy and the boundary.
    assert.deepEqual(planRole(desiredRole(permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }), target), observedFrom(after)), [
      { op: 'updateRole' },
      { op: 'detachPolicy', arn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' },
      { op: 'attachPolicy', arn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      { op: 'deleteInlinePolicy', name: INLINE_POLICY_NAME },
      { op: 'deleteBoundary' },
    ]);
  });

  void it('rewrites a trust policy someone edited, and describes the drift', () => {
    const ps = permissionSet();
    const observed = observedFrom(ps);
    observed.trustPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }] };
    observed.attachedPolicyArns.push('arn:aws:iam::aws:policy/AdministratorAccess');
    const steps = planRole(desiredRole(ps, target), observed);
    assert.deepEqual(steps, [{ op: 'updateAssumeRolePolicy' }, { op: 'detachPolicy', arn: 'arn:aws:iam::aws:policy/AdministratorAccess' }]);
    assert.equal(describeSteps(steps), 'the trust policy differs; an extra policy is attached (arn:aws:iam::aws:policy/AdministratorAccess)');
  });

  void it('recognises its own roles only: reserved path and tag', () => {
    assert.equal(isPorticoRole({ path: '/portico/', tags: { 'portico:managed': 'true' } }, '/portico/'), true);
    assert.equal(isPorticoRole({ path: '/', tags: { 'portico:managed': 'true' } }, '/portico/'), false);
    assert.equal(isPorticoRole({ path: '/portico/', tags: {} }, '/portico/'), false);
  });

  void it('gives a digest that changes with the permission set and not with list order', () => {
    const a = desiredRole(permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/A', 'arn:aws:iam::aws:policy/B'] }), target);
    const b = desiredRole(permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/B', 'arn:aws:iam::aws:policy/A'] }), target);
    const c = desiredRole(permissionSet({ managedPolicies: ['arn:aws:iam::aws:policy/A'] }), target);
    assert.equal(roleDigest(a), roleDigest(b));
    assert.notEqual(roleDigest(a), roleDigest(c));
  });

  void it('compares policy statements as sets', () => {
    assert.equal(sameJson({ Statement: [{ Sid: 'a' }, { Sid: 'b' }] }, { Statement: [{ Sid: 'b' }, { Sid: 'a' }] }), true);
    assert.equal(sameJson({ Statement: [{ Sid: 'a' }] }, { Statement: [{ Sid: 'b' }] }), false);
  });
});
