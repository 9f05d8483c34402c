/** The OIDC application model's rules and the claims an application's tokens carry (pure logic). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oidcApplicationInput, type StoredOidcApplication } from '#src/access/oidc-application.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { groupsClaim, MFA_ACR, profileClaims, requestsMfa } from './provider.ts';

const app = (input: Record<string, unknown>): StoredOidcApplication => ({ ...oidcApplicationInput.parse({ name: 'App', redirectUris: ['https://app.example.test/cb'], ...input }), id: 'oidc-1' });

const user: IdentityUser = {
  userId: 'u1',
  userName: 'alice@corp.example.test',
  name: { formatted: null, givenName: 'Alice', familyName: 'Anderson', middleName: null },
  displayName: 'Alice Anderson',
  nickName: null,
  emails: [{ value: 'alice@corp.example.test', type: 'work', primary: true }],
  phoneNumbers: [],
  addresses: [],
  title: 'Staff Engineer',
  userType: null,
  preferredLanguage: null,
  locale: null,
  timezone: null,
  enterprise: { department: 'Engineering', employeeNumber: null, costCenter: null, organization: null, division: null, manager: null },
  externalIds: [],
  activeDirectory: { windowsUpn: 'alice@corp.example.test', domain: 'corp.example.test', guid: '0f8fad5b-d9cb-469f-a165-70867728950e', sid: 'S-1-5-21-1-2-3-1104' },
  attributes: {},
  createdAt: new Date(0),
  provisionedAt: new Date(0),
};

const group = (name: string) => ({ guid: name, qualifiedName: `${name}@corp.example.test`, path: [name] });

void describe('OIDC application model', () => {
  it('defaults to a confidential, pairwise, ES256 client with the code and refresh grants', () => {
    const parsed = app({});
    assert.equal(parsed.clientType, 'confidential');
    assert.equal(parsed.subjectType, 'pairwise');
    assert.equal(parsed.idTokenSigningAlg, 'ES256');
    assert.deepEqual(parsed.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(parsed.accessTokenLifetime, 'PT1H');
  });

  it('refuses http redirect URIs except on loopback, fragments, and code flows without a redirect URI', () => {
    const issues = (input: Record<string, unknown>) => oidcApplicationInput.safeParse({ name: 'App', ...input }).error?.issues.map((i) => i.message) ?? [];
    assert.match(issues({ redirectUris: ['http://app.example.test/cb'] }).join(), /https URL \(http only for loopback\)/);
    assert.deepEqual(issues({ redirectUris: ['http://127.0.0.1:8080/cb'] }), []);
    assert.match(issues({ redirectUris: ['https://app.example.test/cb#x'] }).join(), /fragment/);
    assert.match(issues({}).join(), /at least one for the authorization_code grant/);
    assert.match(issues({ clientType: 'public', grantTypes: ['client_credentials'] }).join(), /needs a confidential client/);
    assert.match(issues({ redirectUris: ['https://a.test/cb'], claimMappings: [{ claim: 'email', value: '${user:groups}' }] }).join(), /groups go in the groups claim/);
    assert.match(issues({ redirectUris: ['https://a.test/cb'], claimMappings: [{ claim: 'sub', value: '${user:userName}' }] }).join(), /claimMappings.claim/);
  });
});

void describe('OIDC claims', () => {
  it('fills the standard claims from the user, with the application\'s mappings over the defaults; a missing value is left out', () => {
    assert.deepEqual(profileClaims(app({}), user), {
      name: 'Alice Anderson',
      given_name: 'Alice',
      family_name: 'Anderson',
      preferred_username: 'alice@corp.example.test',
      email: 'alice@corp.example.test',
    });
    const mapped = profileClaims(app({ claimMappings: [{ claim: 'nickname', value: '${user:title} (${user:enterprise.department})' }, { claim: 'name', value: '${user:enterprise.employeeNumber}' }] }), user);
    assert.equal(mapped.nickname, 'Staff Engineer (Engineering)');
    assert.equal(mapped.name, undefined, 'a template naming a missing value yields no claim, not a partial one');
  });

  it('lists AD group names in the groups claim, optionally those with a prefix only, or none when disabled', () => {
    const groups = [group('Eng-Platform'), group('eng-all'), group('Sales-Team'), group('Eng-Platform')];
    assert.deepEqual(groupsClaim(app({}), groups), ['Eng-Platform', 'Sales-Team', 'eng-all']);
    assert.deepEqual(groupsClaim(app({ groupsClaim: { prefix: 'Eng-' } }), groups), ['Eng-Platform', 'eng-all']);
    assert.equal(groupsClaim(app({ groupsClaim: { enabled: false } }), groups), undefined);
  });

  it('limits the groups claim to the assigned groups when asked, combined with the prefix', () => {
    const groups = [group('Eng-Platform'), group('Eng-All'), group('Sales-Team')];
    const assigned = new Set(['eng-all', 'sales-team']);
    assert.deepEqual(groupsClaim(app({ groupsClaim: { assignedOnly: true } }), groups, assigned), ['Eng-All', 'Sales-Team']);
    assert.deepEqual(groupsClaim(app({ groupsClaim: { assignedOnly: true, prefix: 'eng-' } }), groups, assigned), ['Eng-All']);
    assert.deepEqual(groupsClaim(app({ groupsClaim: { assignedOnly: true } }), groups), [], 'assigned directly as a user: no group to show');
    assert.deepEqual(groupsClaim(app({}), groups, assigned), ['Eng-All', 'Eng-Platform', 'Sales-Team'], 'off by default');
  });

  it('takes a back-channel logout URI like a redirect URI', () => {
    assert.equal(app({ backchannelLogoutUri: 'https://app.example.test/logout' }).backchannelLogoutUri, 'https://app.example.test/logout');
    assert.equal(oidcApplicationInput.safeParse({ name: 'A', redirectUris: ['https://a.test/cb'], backchannelLogoutUri: 'http://a.test/logout' }).success, false);
  });
});

void describe('acr requests', () => {
  it('asks for MFA through acr_values or an essential acr claim that only MFA satisfies', () => {
    assert.equal(requestsMfa({ acr_values: `urn:portico:acr:password ${MFA_ACR}` }), true);
    assert.equal(requestsMfa({ acr_values: 'urn:portico:acr:password' }), false);
    assert.equal(requestsMfa({}), false);
    assert.equal(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: MFA_ACR } } }) }), true);
    assert.equal(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [MFA_ACR] } } }) }), true);
    assert.equal(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [MFA_ACR, 'urn:portico:acr:password'] } } }) }), false, 'a password is acceptable too');
    assert.equal(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { value: MFA_ACR } } }) }), false, 'voluntary');
    assert.equal(requestsMfa({ claims: '{not json' }), false);
  });
});
