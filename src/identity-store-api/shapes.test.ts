/** toAwsUser: the JSON a DescribeUser or ListUsers answer carries, member for member and in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toProvisionedUser, type IdentityUser } from '#src/identity-store/user.ts';
import { toAwsUser } from './shapes.ts';

const STORE = 'd-0123456789';
const GUID = '0d4e9c3a-5b6f-4a7e-9c8d-1e2f3a4b5c6d';

function user(mapped: Record<string, string>): IdentityUser {
  const provisioned = toProvisionedUser({ guid: GUID, sid: 'S-1-5-21-1-2-3-1000', userPrincipalName: 'ada@corp.example.test', domain: 'corp.example.test' }, mapped);
  return { ...provisioned, userId: '6a1f0c2e-7b3d-4e5f-8a9b-0c1d2e3f4a5b', createdAt: new Date(0), provisionedAt: new Date(0) };
}

describe('toAwsUser', () => {
  it('writes every member a full record has, in the order AWS answers them', () => {
    const full: IdentityUser = {
      ...user({ email: 'ada@corp.example.test', givenName: 'Ada', familyName: 'Lovelace', name: 'Ada Lovelace', title: 'Engineer', phoneNumber: '+1 555 0100' }),
      name: { formatted: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', middleName: 'B' },
      nickName: 'ada',
      addresses: [{ formatted: '1 Main St', type: 'work', primary: true }],
      userType: 'Employee',
      preferredLanguage: 'en',
      locale: 'en-GB',
      timezone: 'Europe/London',
    };
    const aws = toAwsUser(full, STORE);
    assert.deepEqual(Object.keys(aws), [
      'UserName',
      'UserId',
      'ExternalIds',
      'Name',
      'DisplayName',
      'NickName',
      'Emails',
      'PhoneNumbers',
      'Addresses',
      'UserType',
      'Title',
      'PreferredLanguage',
      'Locale',
      'Timezone',
      'IdentityStoreId',
    ]);
    assert.deepEqual(Object.keys(aws.Name ?? {}), ['Formatted', 'FamilyName', 'GivenName', 'MiddleName']);
    assert.deepEqual(aws.Emails, [{ Value: 'ada@corp.example.test', Type: 'work', Primary: true }]);
    assert.deepEqual(aws.Addresses, [{ Formatted: '1 Main St', Type: 'work', Primary: true }]);
    assert.deepEqual(aws.ExternalIds, [{ Issuer: 'ad:corp.example.test', Id: GUID }]);
    assert.equal(aws.IdentityStoreId, STORE);
  });

  it('leaves out null and missing values, and Name when it has no part', () => {
    const bare: IdentityUser = { ...user({}), name: { formatted: null, givenName: null, familyName: null, middleName: null } };
    // A record stored before a member existed has it missing, not null.
    delete (bare as Partial<IdentityUser>).timezone;
    const aws = toAwsUser(bare, STORE);
    assert.deepEqual(Object.keys(aws), ['UserName', 'UserId', 'ExternalIds', 'IdentityStoreId']);
    const partial = toAwsUser({ ...bare, name: { formatted: null, givenName: 'Ada', familyName: null, middleName: null } }, STORE);
    assert.deepEqual(partial.Name, { GivenName: 'Ada' });
    assert.equal(JSON.stringify(partial).includes('null'), false);
  });
});
