import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryUser } from '#src/directory/types.ts';
import type { AppError } from '#src/shared/errors.ts';
import { isAppError } from '#src/shared/errors.ts';
import {
  applyMappings,
  defaultMappings,
  directorySourceNames,
  explainMappings,
  identityCenterMappings,
  mappingPresets,
  mappingRefusals,
  mappingUserLabel,
  parseTemplate,
  referencedAttributes,
  validateMappings,
} from './mappings.ts';
import type { MappingTable } from './mappings.ts';
import { toProvisionedUser } from './user.ts';

const guid = '5f8a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b';
const dn = 'CN=Alice Martin,OU=Staff,DC=corp,DC=example,DC=test';

/** What the connector returns for a well-kept account (attribute keys as the connector asks). */
function alice(overrides: Partial<DirectoryUser> = {}): DirectoryUser {
  return {
    guid,
    sid: 'S-1-5-21-1004336348-1177238915-682003330-1105',
    dn,
    samAccountName: 'alice',
    userPrincipalName: 'alice@corp.example.test',
    displayName: 'Alice Martin',
    givenName: 'Alice',
    surname: 'Martin',
    mail: 'alice.martin@example.com',
    netbiosName: 'CORP',
    domain: 'corp.example.test',
    primaryGroupId: 513,
    account: { state: 'ok', conditions: [], accountExpires: null, passwordLastSet: new Date('2024-01-01T00:00:00Z'), lockedOutAt: null },
    attributes: {
      sAMAccountName: ['alice'],
      userPrincipalName: ['alice@corp.example.test'],
      cn: ['Alice Martin'],
      displayName: ['Alice Martin'],
      givenName: ['Alice'],
      sn: ['Martin'],
      initials: ['J'],
      mail: ['alice.martin@example.com'],
      proxyAddresses: ['smtp:alice@corp.example.test', 'SMTP:alice.martin@example.com', 'smtp:am@example.com', 'X500:/o=Corp/ou=Exchange/cn=Recipients/cn=alice'],
      title: ['Engineer'],
      department: ['Platform'],
      employeeID: ['E-1042'],
      telephoneNumber: ['+33 1 23 45 67 89'],
      manager: ['CN=Bob Lee,OU=Staff,DC=corp,DC=example,DC=test'],
    },
    ...overrides,
  };
}

/** A bare account: no UPN, no names, no mail, nothing optional. */
function bare(): DirectoryUser {
  return alice({
    userPrincipalName: null,
    displayName: null,
    givenName: null,
    surname: null,
    mail: null,
    attributes: { sAMAccountName: ['svc-backup'] },
    samAccountName: 'svc-backup',
    dn: 'CN=svc-backup,CN=Users,DC=corp,DC=example,DC=test',
  });
}

function invalidAt(position: number, message?: string) {
  return (error: unknown): boolean => {
    assert.ok(isAppError(error, 'identity.mapping_invalid'), String(error));
    assert.equal(error.status, 400);
    assert.equal(error.details?.position, position, error.message);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  };
}

function missing(check: (error: AppError) => void) {
  return (error: unknown): boolean => {
    assert.ok(isAppError(error, 'identity.mapping_value_missing'), String(error));
    assert.equal(error.status, 422);
    check(error);
    return true;
  };
}

const value = (template: string, user: DirectoryUser = alice()): string | undefined => applyMappings({ title: template }, user).values.title;

describe('default mappings', () => {
  it("are Identity Center's table with fallbacks for the names the identity store requires", () => {
    assert.deepEqual(
      { ...defaultMappings },
      {
        AD_GUID: '${dir:guid}',
        email: '${dir:windowsUpn}',
        familyName: '${dir:lastname|displayname|samAccountName}',
        givenName: '${dir:firstname|displayname|samAccountName}',
        middleName: '${dir:initials|""}',
        name: '${dir:displayname|fullname|samAccountName}',
        preferredUsername: '${dir:displayname|fullname|samAccountName}',
        subject: '${dir:windowsUpn}',
        formattedName: '${dir:fullname|displayname|samAccountName}',
      },
    );
    assert.ok(Object.isFrozen(defaultMappings));
    assert.deepEqual(validateMappings({ ...defaultMappings }), defaultMappings);
    assert.deepEqual(mappingPresets, { default: defaultMappings, 'identity-center': identityCenterMappings });
    assert.deepEqual(validateMappings({ ...identityCenterMappings }), identityCenterMappings);
  });

  it('give the same answers from a frozen table (kept compiled) as from a fresh one, for every user', () => {
    const frozen = Object.freeze({ ...defaultMappings, department: '${department|"Unassigned"}' });
    for (const user of [alice(), alice({ displayName: 'Someone Else', attributes: { initials: ['Q'] } }), bare()]) {
      const fresh = { ...frozen };
      assert.deepEqual(referencedAttributes(frozen), referencedAttributes(fresh));
      assert.deepEqual(explainMappings(frozen, user), explainMappings(fresh, user));
      let fromFresh: unknown;
      let fromFrozen: unknown;
      try {
        fromFresh = applyMappings(fresh, user);
      } catch (error) {
        fromFresh = error;
      }
      try {
        fromFrozen = applyMappings(frozen, user);
      } catch (error) {
        fromFrozen = error;
      }
      assert.deepEqual(fromFrozen, fromFresh);
    }
  });

  it('map a realistic user', () => {
    const { values, sources } = applyMappings(defaultMappings, alice());
    assert.deepEqual(values, {
      AD_GUID: guid,
      email: 'alice@corp.example.test',
      familyName: 'Martin',
      givenName: 'Alice',
      middleName: 'J',
      name: 'Alice Martin',
      preferredUsername: 'Alice Martin',
      subject: 'alice@corp.example.test',
      formattedName: 'Alice Martin',
    });
    assert.deepEqual(sources.email, [{ placeholder: '${dir:windowsUpn}', attribute: 'userPrincipalName', value: 'alice@corp.example.test' }]);
    assert.deepEqual(sources.AD_GUID, [{ placeholder: '${dir:guid}', attribute: 'objectGUID', value: guid }]);

    const record = toProvisionedUser({ guid, sid: 'S-1-5-21-1-2-3-1105', userPrincipalName: 'alice@corp.example.test', domain: 'corp.example.test' }, values);
    assert.equal(record.displayName, 'Alice Martin');
    assert.equal(record.nickName, 'Alice Martin');
    assert.equal(record.name.formatted, 'Alice Martin');
    assert.deepEqual(record.emails, [{ value: 'alice@corp.example.test', type: 'work', primary: true }]);
  });

  it("give every user Identity Center's table accepts the same values (and the name it computed)", () => {
    const users = [
      alice(),
      alice({ displayName: 'Dr. A. Martin', attributes: { ...alice().attributes, displayName: ['Dr. A. Martin'], initials: ['Q'] } }),
      alice({ givenName: 'Zoë', surname: "O'Brien-Łukasz", displayName: 'Zoë O.', attributes: { initials: ['Z'] } }),
    ];
    for (const user of users) {
      const ic = applyMappings(identityCenterMappings, user).values;
      const ours = applyMappings(defaultMappings, user).values;
      const { formattedName, ...rest } = ours;
      assert.deepEqual(rest, ic);
      const identity = { guid, sid: 'S-1-5-21-1-2-3-1105', userPrincipalName: 'alice@corp.example.test', domain: 'corp.example.test' };
      assert.equal(formattedName, toProvisionedUser(identity, ic).name.formatted, 'the formatted name is the one computed before');
    }
  });

  it('leave middleName unset for a user without initials, where the identity-center preset refuses them', () => {
    const user = alice({ attributes: { ...alice().attributes, initials: [] } });
    const { values } = applyMappings(defaultMappings, user);
    assert.equal(values.middleName, undefined);
    assert.equal(values.givenName, 'Alice');
    assert.throws(
      () => applyMappings(identityCenterMappings, user),
      missing((error) => {
        assert.equal(error.message, 'the attribute "initials" (${dir:initials}) of alice@corp.example.test is empty, and the mapping "middleName" needs it');
        assert.deepEqual(error.details, {
          target: 'middleName',
          template: '${dir:initials}',
          attribute: 'initials',
          attributes: ['initials'],
          placeholder: '${dir:initials}',
        });
      }),
    );
  });

  it('fall back for the display name: displayName, then "givenName sn", then sAMAccountName', () => {
    const noDisplay = alice({ displayName: null, attributes: { givenName: ['Alice'], sn: ['Martin'] } });
    const outcome = applyMappings(defaultMappings, noDisplay);
    assert.equal(outcome.values.name, 'Alice Martin');
    assert.equal(outcome.values.preferredUsername, 'Alice Martin');
    assert.deepEqual(outcome.sources.name, [{ placeholder: '${dir:displayname|fullname|samAccountName}', attribute: 'givenName', value: 'Alice Martin' }]);
    assert.equal(outcome.values.givenName, 'Alice');
    assert.equal(outcome.values.familyName, 'Martin');

    const onlySurname = alice({ displayName: null, givenName: null, attributes: { sn: ['Martin'] } });
    const partial = applyMappings(defaultMappings, onlySurname).values;
    assert.equal(partial.name, 'Martin');
    assert.deepEqual(applyMappings(defaultMappings, onlySurname).sources.name?.[0]?.attribute, 'sn');
    assert.equal(partial.givenName, 'alice', 'no givenName and no displayName: the account name');
    assert.equal(partial.familyName, 'Martin');

    const nothing = bare();
    const minimal = applyMappings(defaultMappings, nothing);
    assert.deepEqual(minimal.values, {
      AD_GUID: guid,
      email: 'svc-backup@corp.example.test',
      familyName: 'svc-backup',
      givenName: 'svc-backup',
      name: 'svc-backup',
      preferredUsername: 'svc-backup',
      subject: 'svc-backup@corp.example.test',
      formattedName: 'svc-backup',
    });
    assert.deepEqual(minimal.sources.name, [{ placeholder: '${dir:displayname|fullname|samAccountName}', attribute: 'sAMAccountName', value: 'svc-backup' }]);
  });

  it('fill the given and family names from the display name when AD has none', () => {
    const cher = alice({ displayName: 'Cher', givenName: null, surname: null, attributes: { displayName: ['Cher'] } });
    const { values } = applyMappings(defaultMappings, cher);
    assert.equal(values.givenName, 'Cher');
    assert.equal(values.familyName, 'Cher');
    assert.equal(values.name, 'Cher');
    assert.equal(values.formattedName, 'Cher', 'not "Cher Cher"');
  });

  it('refuse nobody for an empty attribute: every required name ends with an attribute every account has', () => {
    for (const user of [alice(), bare(), alice({ givenName: '  ', surname: null, displayName: ' ', attributes: {} })]) {
      assert.deepEqual(mappingRefusals(defaultMappings, user), []);
      const { values } = applyMappings(defaultMappings, user);
      for (const required of ['givenName', 'familyName', 'name'] as const) assert.ok(values[required], `${required} is set`);
    }
  });
});

describe('mappingRefusals', () => {
  it('lists every refusing mapping with its empty attributes', () => {
    const user = bare();
    const refusals = mappingRefusals(identityCenterMappings, user);
    assert.deepEqual(
      refusals.map((r) => [r.target, r.reason, r.attributes]),
      [
        ['familyName', 'empty', ['sn']],
        ['givenName', 'empty', ['givenName']],
        ['middleName', 'empty', ['initials']],
        ['name', 'empty', ['displayName']],
        ['preferredUsername', 'empty', ['displayName']],
      ],
    );
    assert.match(refusals[0]?.message ?? '', /of svc-backup@corp\.example\.test is empty/);
    const tooLong = mappingRefusals({ title: '${info}' }, alice({ attributes: { info: ['y'.repeat(1025)] } }));
    assert.deepEqual(tooLong.map((r) => [r.target, r.reason, r.attributes]), [['title', 'tooLong', []]]);
    assert.equal(mappingUserLabel(user), 'svc-backup@corp.example.test');
  });
});

describe('templates', () => {
  it('concatenate literal text and placeholders', () => {
    assert.equal(value('${dir:lastname}, ${dir:firstname}'), 'Martin, Alice');
    assert.equal(value('${dir:lastname}${dir:firstname}'), 'MartinAlice');
    assert.equal(value('${dir:firstname} (${department}) <${mail}>'), 'Alice (Platform) <alice.martin@example.com>');
    assert.equal(value('Contractor'), 'Contractor');
  });

  it('trims the value, not the values inside it', () => {
    const user = alice({ givenName: ' Alice ', attributes: { ...alice().attributes, givenName: [' Alice '] } });
    assert.equal(value('  ${dir:firstname}-x  ', user), 'Alice -x');
  });

  it('reads every directory source', () => {
    const expected: Record<string, [string, string]> = {
      email: ['alice.martin@example.com', 'mail'],
      displayname: ['Alice Martin', 'displayName'],
      distinguishedName: [dn, 'distinguishedName'],
      firstname: ['Alice', 'givenName'],
      guid: [guid, 'objectGUID'],
      initials: ['J', 'initials'],
      lastname: ['Martin', 'sn'],
      fullname: ['Alice Martin', 'givenName'],
      samAccountName: ['alice', 'sAMAccountName'],
      proxyAddresses: ['smtp:alice@corp.example.test', 'proxyAddresses'],
      'proxyAddresses:SMTP': ['alice.martin@example.com', 'proxyAddresses'],
      'proxyAddresses:smtp': ['alice@corp.example.test', 'proxyAddresses'],
      windowsUpn: ['alice@corp.example.test', 'userPrincipalName'],
    };
    assert.deepEqual(Object.keys(expected).sort(), [...directorySourceNames].sort());
    for (const [source, [want, attribute]] of Object.entries(expected)) {
      const placeholder = `\${dir:${source}}`;
      const outcome = applyMappings({ title: placeholder }, alice());
      assert.equal(outcome.values.title, want, source);
      assert.deepEqual(outcome.sources.title, [{ placeholder, attribute, value: want }], source);
    }
  });

  it('falls back on the raw attribute when a typed field is empty', () => {
    const user = alice({ mail: null });
    assert.equal(value('${dir:email}', user), 'alice.martin@example.com');
  });

  it('reads proxyAddresses by prefix, case-sensitively', () => {
    const only = (values: string[]) => alice({ attributes: { proxyaddresses: values } });
    assert.equal(value('${dir:proxyAddresses:SMTP}', only(['smtp:b@x.test', 'SMTP:a@x.test'])), 'a@x.test');
    assert.equal(value('${dir:proxyAddresses:smtp}', only(['SMTP:a@x.test', 'smtp:b@x.test', 'smtp:c@x.test'])), 'b@x.test');
    assert.equal(value('${dir:proxyAddresses}', only(['X500:/o=Corp', 'SMTP:a@x.test'])), 'X500:/o=Corp');
    // Only sip: and a mixed-case prefix: neither is an SMTP address of either kind.
    const none = only(['sip:a@x.test', 'Smtp:a@x.test']);
    assert.throws(() => value('${dir:proxyAddresses:SMTP}', none), missing((e) => assert.equal(e.details?.attribute, 'proxyAddresses')));
    assert.throws(() => value('${dir:proxyAddresses:smtp}', none), isAppError);
    assert.equal(value('${dir:proxyAddresses:SMTP|proxyAddresses:smtp|"none"}', none), 'none');
  });

  it('uses the implicit UPN when AD has none', () => {
    const outcome = applyMappings({ email: '${dir:windowsUpn}' }, bare());
    assert.equal(outcome.values.email, 'svc-backup@corp.example.test');
    assert.deepEqual(outcome.sources.email, [{ placeholder: '${dir:windowsUpn}', attribute: 'sAMAccountName', value: 'svc-backup@corp.example.test' }]);
  });

  it('reads raw attributes case-insensitively, first value', () => {
    const user = alice({ attributes: { ...alice().attributes, otherTelephone: ['+1 555 0100', '+1 555 0199'] } });
    assert.equal(value('${employeeid}', user), 'E-1042');
    assert.equal(value('${EMPLOYEEID}', user), 'E-1042');
    assert.equal(value('${othertelephone}', user), '+1 555 0100');
    assert.deepEqual(applyMappings({ employeeNumber: '${employeeid}' }, user).sources.employeeNumber, [
      { placeholder: '${employeeid}', attribute: 'employeeID', value: 'E-1042' },
    ]);
    // Typed fields answer for names the connector may not have listed in `attributes`.
    assert.equal(value('${distinguishedName}', alice({ attributes: {} })), dn);
    assert.equal(value('${userPrincipalName}', alice({ attributes: {} })), 'alice@corp.example.test');
  });

  it('escapes $ as $$', () => {
    assert.equal(value('Cost $$${department}'), 'Cost $Platform');
    assert.equal(value('$${dir:email}'), '${dir:email}');
    assert.equal(value('US$ 5'), 'US$ 5');
    assert.equal(value('a$$$$b'), 'a$$b');
    assert.deepEqual(parseTemplate('x$${y}'), [{ kind: 'literal', text: 'x${y}' }]);
  });

  it('parses placeholders with their positions', () => {
    assert.deepEqual(parseTemplate('é ${dir:email|windowsUpn|"n/a"} ${mail|userPrincipalName}'), [
      { kind: 'literal', text: 'é ' },
      {
        kind: 'placeholder',
        text: '${dir:email|windowsUpn|"n/a"}',
        position: 3,
        alternatives: [
          { kind: 'directory', source: 'email' },
          { kind: 'directory', source: 'windowsUpn' },
        ],
        fallback: 'n/a',
      },
      { kind: 'literal', text: ' ' },
      {
        kind: 'placeholder',
        text: '${mail|userPrincipalName}',
        position: 33,
        alternatives: [
          { kind: 'attribute', name: 'mail' },
          { kind: 'attribute', name: 'userPrincipalName' },
        ],
        fallback: null,
      },
    ]);
    assert.deepEqual(parseTemplate('${dir:email|"say \\"hi\\" \\\\ | }"}')[0], {
      kind: 'placeholder',
      text: '${dir:email|"say \\"hi\\" \\\\ | }"}',
      position: 1,
      alternatives: [{ kind: 'directory', source: 'email' }],
      fallback: 'say "hi" \\ | }',
    });
  });
});

describe('fallbacks', () => {
  it('try directory sources in order', () => {
    const table: MappingTable = { email: '${dir:email|windowsUpn}' };
    assert.equal(applyMappings(table, alice()).values.email, 'alice.martin@example.com');
    const outcome = applyMappings(table, alice({ mail: null, attributes: {} }));
    assert.equal(outcome.values.email, 'alice@corp.example.test');
    assert.deepEqual(outcome.sources.email, [{ placeholder: '${dir:email|windowsUpn}', attribute: 'userPrincipalName', value: 'alice@corp.example.test' }]);
  });

  it('try raw attributes in order', () => {
    assert.equal(value('${employeeNumber|employeeID}'), 'E-1042');
    assert.equal(value('${mobile|telephoneNumber}'), '+33 1 23 45 67 89');
  });

  it('skip blank values', () => {
    const user = alice({ attributes: { ...alice().attributes, mobile: ['   '] } });
    assert.equal(value('${mobile|telephoneNumber}', user), '+33 1 23 45 67 89');
  });

  it('end with a quoted default', () => {
    const outcome = applyMappings({ department: '${department|"Unassigned"}', division: '${division|"Unassigned"}' }, alice());
    assert.equal(outcome.values.department, 'Platform');
    assert.equal(outcome.values.division, 'Unassigned');
    assert.deepEqual(outcome.sources.division, [{ placeholder: '${division|"Unassigned"}', attribute: null, value: 'Unassigned' }]);
  });

  it('leave a target unset with an empty default', () => {
    const user = bare();
    const outcome = applyMappings({ middleName: '${dir:initials|""}', email: '${dir:windowsUpn}' }, user);
    assert.deepEqual(outcome.values, { email: 'svc-backup@corp.example.test' });
    assert.deepEqual(outcome.sources.middleName, [{ placeholder: '${dir:initials|""}', attribute: null, value: '' }]);
    // Text around it keeps the value non-empty.
    assert.equal(value('${dir:initials|""}.', user), '.');
  });

  it('name every attribute when none has a value', () => {
    assert.throws(
      () => applyMappings({ email: '${dir:email|displayname}' }, bare()),
      missing((error) => {
        assert.equal(
          error.message,
          'the attributes "mail" and "displayName" (${dir:email|displayname}) of svc-backup@corp.example.test are empty, and the mapping "email" needs one of them',
        );
        assert.deepEqual(error.details?.attributes, ['mail', 'displayName']);
        assert.equal(error.details?.attribute, 'mail');
      }),
    );
    assert.throws(
      () => applyMappings({ title: '${title|mobile|company}' }, bare()),
      missing((error) => assert.match(error.message, /^the attributes "title", "mobile" and "company" \(/)),
    );
  });
});

describe('missing values', () => {
  it('name the attribute, its placeholder, the user and the target', () => {
    const user = alice({ givenName: null, attributes: { ...alice().attributes, givenName: [] } });
    assert.throws(
      () => applyMappings({ ...identityCenterMappings }, user),
      missing((error) => {
        assert.equal(error.message, 'the attribute "givenName" (${dir:firstname}) of alice@corp.example.test is empty, and the mapping "givenName" needs it');
        assert.deepEqual(error.details, {
          target: 'givenName',
          template: '${dir:firstname}',
          attribute: 'givenName',
          attributes: ['givenName'],
          placeholder: '${dir:firstname}',
        });
      }),
    );
  });

  it('count a blank value as missing', () => {
    const user = alice({ attributes: { ...alice().attributes, department: ['  '] } });
    assert.throws(() => value('Dept: ${department}', user), missing((e) => assert.equal(e.details?.attribute, 'department')));
  });

  it('count a missing raw attribute as missing', () => {
    assert.throws(
      () => applyMappings({ costCenter: '${extensionAttribute1}' }, alice()),
      missing((e) => assert.equal(e.message, 'the attribute "extensionAttribute1" (${extensionAttribute1}) of alice@corp.example.test is empty, and the mapping "costCenter" needs it')),
    );
  });

  it('refuse a value longer than the identity store holds', () => {
    const user = alice({ attributes: { ...alice().attributes, description: ['x'.repeat(1000)] } });
    assert.equal(value('${description}', user)?.length, 1000);
    assert.throws(
      () => applyMappings({ title: '${description}-${description}' }, user),
      missing((error) => {
        assert.equal(error.message, 'the mapping "title" produced 2,001 characters for alice@corp.example.test; the identity store holds at most 1,024');
        assert.deepEqual(error.details, { target: 'title', template: '${description}-${description}', attribute: null, length: 2001, limit: 1024 });
      }),
    );
  });
});

describe('template errors', () => {
  const known = 'email, displayname, distinguishedName, firstname, guid, initials, lastname, fullname, samAccountName, proxyAddresses, proxyAddresses:SMTP, proxyAddresses:smtp, windowsUpn';

  it('name the target, the template and the position', () => {
    assert.throws(
      () => validateMappings({ email: '${dir:emial}' }),
      (error: unknown) => {
        assert.ok(isAppError(error, 'identity.mapping_invalid'));
        assert.equal(error.status, 400);
        assert.equal(error.message, `mapping "email": unknown directory source "emial" at character 7 of "\${dir:emial}" (known: ${known})`);
        assert.deepEqual(error.details, { target: 'email', template: '${dir:emial}', position: 7 });
        return true;
      },
    );
    assert.throws(
      () => parseTemplate('${dir:emial}'),
      (error: unknown) => {
        assert.ok(isAppError(error, 'identity.mapping_invalid'));
        assert.equal(error.message, `unknown directory source "emial" at character 7 of "\${dir:emial}" (known: ${known})`);
        assert.deepEqual(error.details, { template: '${dir:emial}', position: 7 });
        return true;
      },
    );
  });

  const cases: Array<[string, number, RegExp]> = [
    ['Hi ${dir:firstname', 4, /^unterminated placeholder at character 4 /],
    ['${dir:email ${dir:lastname}', 1, /^unterminated placeholder/],
    ['${', 1, /^unterminated placeholder/],
    ['${dir:email|', 1, /^unterminated placeholder/],
    ['${dir:email|"x"', 1, /^unterminated placeholder/],
    ['a${}b', 2, /^empty placeholder at character 2 /],
    ['${dir:}', 7, /^empty directory source/],
    ['${dir:email|}', 13, /^empty alternative/],
    ['${dir:email||windowsUpn}', 13, /^empty alternative/],
    ['${|mail}', 3, /^empty alternative/],
    ['${dir:Email}', 7, /^unknown directory source "Email" .*did you mean "email"\? source names are case-sensitive/],
    ['${dir:proxyAddresses:X400}', 7, /^unknown directory source "proxyAddresses:X400"/],
    ['${dir:email|mail}', 13, /^unknown directory source "mail"/],
    ['${dir:email | windowsUpn}', 12, /^unexpected space inside a placeholder/],
    ['${ mail}', 3, /^unexpected space inside a placeholder/],
    ['${1mail}', 3, /^invalid attribute name "1mail"/],
    ['x ${mail_alias}', 9, /^invalid attribute name "mail_alias"/],
    ['${mail;binary}', 7, /^invalid attribute name/],
    ['${unicodePwd}', 3, /^the attribute "unicodePwd" cannot be mapped .*it holds a password/],
    ['${mail|userPassword}', 8, /^the attribute "userPassword" cannot be mapped/],
    ['${ntPwdHistory}', 3, /cannot be mapped .*password hashes/],
    ['${lmPwdHistory}', 3, /cannot be mapped/],
    ['${supplementalCredentials}', 3, /cannot be mapped .*credentials/],
    ['${objectGUID}', 3, /cannot be mapped .*\$\{dir:guid\}/],
    ['${objectsid}', 3, /cannot be mapped .*\$\{dir:guid\}/],
    ['${user:email}', 3, /^unknown placeholder namespace "user" .*application attribute mappings/],
    ['${DIR:email}', 3, /^unknown placeholder namespace "DIR" .*lower case/],
    ['${proxyAddresses:SMTP}', 3, /did you mean \$\{dir:proxyAddresses:SMTP\}\?/],
    ['${mail|dir:email}', 8, /^a raw-attribute placeholder cannot fall back to a directory source/],
    ['${"x"}', 3, /^a quoted default needs an attribute before it/],
    ['${dir:"x"}', 7, /^a quoted default needs an attribute before it/],
    ['${dir:email|"x"|mail}', 16, /^a quoted default must be the last alternative/],
    ['${dir:email|"x"y}', 16, /^expected \} after the quoted default/],
    ['${dir:email|"x', 13, /^unterminated quoted default/],
    ['${dir:email|"a\\nb"}', 15, /^unknown escape in a quoted default/],
    ['a\tb', 2, /^control character at character 2 /],
    ['line\n${mail}', 5, /^control character/],
    ['', 1, /^the template is empty/],
    ['   ', 1, /^the template is empty/],
    // Positions count characters, not UTF-16 units.
    ['😀é${dir:emial}', 9, /^unknown directory source "emial" at character 9 /],
  ];
  for (const [template, position, message] of cases) {
    it(`${JSON.stringify(template)} fails at character ${position}`, () => {
      assert.throws(() => parseTemplate(template), (error: unknown) => {
        assert.ok(invalidAt(position)(error));
        assert.match((error as AppError).message, message);
        return true;
      });
      assert.throws(() => validateMappings({ title: template }), (error: unknown) => {
        assert.ok(invalidAt(position)(error));
        assert.ok((error as AppError).message.startsWith('mapping "title": '));
        assert.equal((error as AppError).details?.target, 'title');
        return true;
      });
    });
  }

  it('refuse a template longer than 1,024 characters', () => {
    const template = `${'a'.repeat(1020)}${'${mail}'}`;
    assert.throws(() => validateMappings({ title: template }), invalidAt(1025, 'mapping "title": the template is 1,027 characters long; the limit is 1,024'));
    assert.equal(parseTemplate('é'.repeat(1024)).length, 1);
  });
});

describe('table errors', () => {
  it('refuse an unknown target', () => {
    assert.throws(
      () => validateMappings({ emial: '${dir:email}' }),
      (error: unknown) => {
        assert.ok(isAppError(error, 'identity.mapping_invalid'));
        assert.match(error.message, /^unknown mapping target "emial" \(known: AD_GUID, email, /);
        assert.deepEqual(error.details, { target: 'emial', template: '${dir:email}', position: null });
        return true;
      },
    );
    assert.throws(() => validateMappings({ Email: '${dir:email}' }), /did you mean "email"\? targets are case-sensitive/);
  });

  it('refuse a template that is not a string', () => {
    assert.throws(() => validateMappings({ email: 42 }), (error: unknown) => {
      assert.ok(isAppError(error, 'identity.mapping_invalid'));
      assert.equal(error.message, 'mapping "email": the template must be a string, not number');
      assert.deepEqual(error.details, { target: 'email', template: null, position: null });
      return true;
    });
    assert.throws(() => validateMappings({ email: null }), /not null/);
    assert.throws(() => validateMappings({ email: ['${mail}'] }), /not object/);
  });

  it('refuse a table that is not an object', () => {
    for (const table of [null, ['${mail}'], 'email=${mail}']) {
      assert.throws(() => validateMappings(table as unknown as Record<string, unknown>), /the mapping table must be an object/);
    }
  });

  it('return the valid table in target order, without undefined rows', () => {
    assert.deepEqual(Object.keys(validateMappings({ title: '${title}', email: '${mail}', name: undefined })), ['email', 'title']);
    assert.deepEqual(validateMappings({}), {});
  });

  it('are thrown by applyMappings too', () => {
    assert.throws(() => applyMappings({ email: '${dir:emial}' }, alice()), invalidAt(7));
    assert.throws(() => explainMappings({ email: '${unicodePwd}' }, alice()), invalidAt(3));
  });
});

describe('explainMappings', () => {
  it('reports every row, the missing ones included', () => {
    const user = alice({ mail: null, givenName: null, attributes: { sAMAccountName: ['alice'], sn: ['Martin'], initials: [] } });
    const rows = explainMappings(
      {
        subject: '${dir:windowsUpn}',
        email: '${dir:email}',
        givenName: '${dir:firstname}',
        familyName: '${dir:lastname}',
        formattedName: '${dir:firstname} ${dir:lastname} (${department})',
        middleName: '${dir:initials|""}',
      },
      user,
    );
    assert.deepEqual(rows, [
      {
        target: 'email',
        template: '${dir:email}',
        value: null,
        sources: [],
        error: 'the attribute "mail" (${dir:email}) of alice@corp.example.test is empty, and the mapping "email" needs it',
      },
      {
        target: 'familyName',
        template: '${dir:lastname}',
        value: 'Martin',
        sources: [{ placeholder: '${dir:lastname}', attribute: 'sn', value: 'Martin' }],
        error: null,
      },
      {
        target: 'givenName',
        template: '${dir:firstname}',
        value: null,
        sources: [],
        error: 'the attribute "givenName" (${dir:firstname}) of alice@corp.example.test is empty, and the mapping "givenName" needs it',
      },
      {
        target: 'middleName',
        template: '${dir:initials|""}',
        value: null,
        sources: [{ placeholder: '${dir:initials|""}', attribute: null, value: '' }],
        error: null,
      },
      {
        target: 'subject',
        template: '${dir:windowsUpn}',
        value: 'alice@corp.example.test',
        sources: [{ placeholder: '${dir:windowsUpn}', attribute: 'userPrincipalName', value: 'alice@corp.example.test' }],
        error: null,
      },
      {
        target: 'formattedName',
        template: '${dir:firstname} ${dir:lastname} (${department})',
        value: null,
        // Every placeholder that resolved is shown; the error names the first gap.
        sources: [{ placeholder: '${dir:lastname}', attribute: 'sn', value: 'Martin' }],
        error: 'the attribute "givenName" (${dir:firstname}) of alice@corp.example.test is empty, and the mapping "formattedName" needs it',
      },
    ]);
  });

  it('agrees with applyMappings on a complete user', () => {
    const table: MappingTable = { ...defaultMappings, department: '${department}', phoneNumber: '${mobile|telephoneNumber}' };
    const applied = applyMappings(table, alice());
    for (const row of explainMappings(table, alice())) {
      assert.equal(row.error, null);
      assert.equal(row.value, applied.values[row.target]);
      assert.deepEqual(row.sources, applied.sources[row.target]);
    }
  });

  it('reports a value that is too long', () => {
    const user = alice({ attributes: { info: ['y'.repeat(1025)] } });
    const [row] = explainMappings({ title: '${info}' }, user);
    assert.equal(row?.value, null);
    assert.match(row?.error ?? '', /produced 1,025 characters/);
  });
});

describe('referencedAttributes', () => {
  it('resolves directory sources to AD attributes, once each', () => {
    assert.deepEqual(referencedAttributes(identityCenterMappings), ['objectGUID', 'userPrincipalName', 'sAMAccountName', 'sn', 'givenName', 'initials', 'displayName']);
    assert.deepEqual(referencedAttributes(defaultMappings), ['objectGUID', 'userPrincipalName', 'sAMAccountName', 'sn', 'displayName', 'givenName', 'initials']);
  });

  it('adds raw names, deduplicated case-insensitively', () => {
    assert.deepEqual(
      referencedAttributes({
        email: '${dir:email|proxyAddresses:SMTP|"x"}',
        title: '${Mail}',
        department: '${department|company}',
        division: '${Department}',
        subject: '${dir:distinguishedName}',
        address: '${streetAddress}, ${postalCode} ${l}',
      }),
      // In target order: email, subject, address, title (mail again), department, division.
      ['mail', 'proxyAddresses', 'distinguishedName', 'streetAddress', 'postalCode', 'l', 'department', 'company'],
    );
  });

  it('is empty for literal-only or empty tables and refuses invalid ones', () => {
    assert.deepEqual(referencedAttributes({ userType: 'Employee' }), []);
    assert.deepEqual(referencedAttributes({}), []);
    assert.throws(() => referencedAttributes({ email: '${' }), invalidAt(1));
  });
});
