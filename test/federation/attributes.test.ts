import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertionAttributes, expandTemplate } from '#src/federation/saml/attributes.ts';
import { application, user } from './saml-fixtures.ts';

void describe('attribute mappings', () => {
  it('fills templates from the identity-store user, keeping literals', () => {
    assert.deepEqual(expandTemplate('${user:name.givenName} ${user:name.familyName}', user(), []), ['Zoë Hallström']);
    assert.deepEqual(expandTemplate('upn:${user:activeDirectory.windowsUpn}', user(), []), ['upn:alice@corp.example.test']);
    assert.deepEqual(expandTemplate('${user:activeDirectory.guid}', user(), []), ['0f5e6b9a-3c2d-4e1f-8a7b-6c5d4e3f2a1b']);
    assert.deepEqual(expandTemplate('${user:subject}', user(), []), ['alice@corp.example.test']);
    assert.deepEqual(expandTemplate('static', user(), []), ['static']);
  });

  it('expands ${user:groups} to one value per group, and to nothing without groups', () => {
    assert.deepEqual(expandTemplate('${user:groups}', user(), ['A', 'B']), ['A', 'B']);
    assert.deepEqual(expandTemplate('corp\\${user:groups}', user(), ['A', 'B']), ['corp\\A', 'corp\\B']);
    assert.deepEqual(expandTemplate('${user:groups}', user(), []), []);
  });

  it('leaves a value out when an attribute it references is missing, rather than sending a partial one', () => {
    assert.deepEqual(expandTemplate('${user:enterprise.employeeNumber}@corp', user(), []), []);
    assert.deepEqual(expandTemplate('${user:email}', user({ email: null }), []), []);
    assert.deepEqual(expandTemplate('${user:unknownPath}', user(), []), []);
  });

  it('builds the attributes of an application with their name formats, leaving out attributes without values', () => {
    const { attributeMappings } = application({
      attributeMappings: [
        { name: 'urn:oid:0.9.2342.19200300.100.1.3', value: '${user:email}', format: 'uri' },
        { name: 'title', value: '${user:title}', format: 'basic' },
        { name: 'employeeNumber', value: '${user:enterprise.employeeNumber}', format: 'unspecified' },
        { name: 'memberOf', value: '${user:groups}', format: 'unspecified' },
      ],
    });
    assert.deepEqual(assertionAttributes(attributeMappings, user(), ['Admins']), [
      { name: 'urn:oid:0.9.2342.19200300.100.1.3', nameFormat: 'uri', values: ['alice@corp.example.test'] },
      { name: 'title', nameFormat: 'basic', values: ['Engineer'] },
      { name: 'memberOf', nameFormat: 'unspecified', values: ['Admins'] },
    ]);
  });
});
