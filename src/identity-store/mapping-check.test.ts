import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryConnector, DirectoryUser, UserSampleOptions } from '#src/directory/types.ts';
import { isAppError } from '#src/shared/errors.ts';
import { checkLimit, checkMappings } from './mapping-check.ts';

function user(sam: string, attributes: Record<string, string[]>, disabled = false): DirectoryUser {
  return {
    guid: `00000000-0000-4000-8000-${String(sam.length).padStart(12, '0')}`,
    sid: 'S-1-5-21-1-2-3-1000',
    dn: `CN=${sam},CN=Users,DC=corp,DC=example,DC=test`,
    samAccountName: sam,
    userPrincipalName: `${sam}@corp.example.test`,
    displayName: attributes.displayName?.[0] ?? null,
    givenName: attributes.givenName?.[0] ?? null,
    surname: attributes.sn?.[0] ?? null,
    mail: attributes.mail?.[0] ?? null,
    netbiosName: 'CORP',
    domain: 'corp.example.test',
    primaryGroupId: 513,
    account: { state: disabled ? 'disabled' : 'ok', conditions: disabled ? ['disabled'] : [], accountExpires: null, passwordLastSet: null, lockedOutAt: null },
    attributes,
  };
}

/** Only sampleUsers is called by the check; it records what it was asked. */
function directory(users: DirectoryUser[], asked: UserSampleOptions[] = []): DirectoryConnector {
  return {
    sampleUsers: (options: UserSampleOptions) => {
      asked.push(options);
      return Promise.resolve({ users: users.slice(0, options.limit), more: users.length > options.limit });
    },
  } as unknown as DirectoryConnector;
}

describe('checkMappings', () => {
  const users = [
    user('ann', { initials: ['A'], mail: ['ann@x.test'] }),
    user('ben', { mail: ['ben@x.test'] }),
    user('cat', {}),
    user('dan', {}, true),
    user('eve', { info: ['y'.repeat(1100)] }),
  ];
  const table = { middleName: '${dir:initials}', email: '${dir:email|proxyAddresses:SMTP}', title: '${info|""}' };

  it('counts, per mapping and reason, the enabled users refused, with examples; disabled ones are not counted', async () => {
    const asked: UserSampleOptions[] = [];
    const report = await checkMappings(directory(users, asked), table, { limit: 100, isDefault: false, examples: 2 });
    assert.deepEqual(asked, [{ limit: 100, attributes: ['mail', 'proxyAddresses', 'initials', 'info'] }], 'the mapped attributes are read');
    assert.deepEqual({ sampled: report.sampled, more: report.more, disabled: report.disabled, checked: report.checked, refusedUsers: report.refusedUsers }, { sampled: 5, more: false, disabled: 1, checked: 4, refusedUsers: 3 });
    assert.deepEqual(report.mappings, [
      { target: 'middleName', template: '${dir:initials}', refused: 3, problems: [{ reason: 'empty', attributes: ['initials'], description: '"initials" is empty', users: 3, examples: ['ben@corp.example.test', 'cat@corp.example.test'] }] },
      { target: 'email', template: '${dir:email|proxyAddresses:SMTP}', refused: 2, problems: [{ reason: 'empty', attributes: ['mail', 'proxyAddresses'], description: '"mail", "proxyAddresses" are all empty', users: 2, examples: ['cat@corp.example.test', 'eve@corp.example.test'] }] },
      { target: 'title', template: '${info|""}', refused: 1, problems: [{ reason: 'tooLong', attributes: [], description: 'the value is longer than the identity store holds (1,024 characters)', users: 1, examples: ['eve@corp.example.test'] }] },
    ]);
  });

  it('says when the directory has more users than the sample', async () => {
    const report = await checkMappings(directory(users), table, { limit: 2, isDefault: false });
    assert.deepEqual([report.sampled, report.more], [2, true]);
  });

  it('takes a limit from 1 to 10,000, 1,000 by default', () => {
    assert.equal(checkLimit(undefined), 1000);
    assert.equal(checkLimit('250'), 250);
    for (const bad of ['0', '10001', '1.5', 'many', '']) assert.throws(() => checkLimit(bad), (error) => isAppError(error, 'config.invalid'), bad);
  });
});
