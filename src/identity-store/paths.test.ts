/** The path registry: the three template languages name values from one table. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directorySourceNames, identityUserValues, PATH_TEMPLATE_PATHS, USER_TEMPLATE_PATHS, USER_TEMPLATE_VALUES } from './paths.ts';

void describe('path registry', () => {
  void it('`${path:…}` offers the SCIM paths, multi-valued ones by primary and work value', () => {
    assert.deepEqual([...PATH_TEMPLATE_PATHS.keys()].slice(-6), [
      'emails[primary eq true].value',
      'emails[type eq "work"].value',
      'phoneNumbers[primary eq true].value',
      'phoneNumbers[type eq "work"].value',
      'addresses[primary eq true].formatted',
      'addresses[type eq "work"].formatted',
    ]);
    // Portico's own values are for SAML mappings, not for Identity Center's paths.
    for (const own of ['subject', 'activeDirectory.guid', 'activeDirectory.windowsUpn', 'constructor']) assert.equal(PATH_TEMPLATE_PATHS.get(own), undefined, own);
  });

  void it('`${user:…}` and `${path:…}` read a shared value with the same reader', () => {
    assert.equal(USER_TEMPLATE_VALUES.email, PATH_TEMPLATE_PATHS.get('emails[primary eq true].value'));
    assert.equal(USER_TEMPLATE_VALUES['name.givenName'], PATH_TEMPLATE_PATHS.get('name.givenName'));
    const readers = new Set<unknown>(Object.values(identityUserValues));
    for (const [path, read] of PATH_TEMPLATE_PATHS) assert.ok(readers.has(read), path);
    for (const [path, read] of Object.entries(USER_TEMPLATE_VALUES)) assert.ok(readers.has(read), path);
    assert.deepEqual(Object.keys(USER_TEMPLATE_VALUES), USER_TEMPLATE_PATHS.filter((path) => path !== 'groups'));
  });

  void it('`${dir:…}` names its directory sources in the registry', () => {
    for (const source of ['email', 'guid', 'windowsUpn', 'fullname', 'proxyAddresses:SMTP']) assert.ok(directorySourceNames.includes(source as never), source);
  });
});
