/** RFC 4514 DNs as AD compares them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DnSyntaxError, escapeDnValue, formatDn, isChildOf, isWithin, normalizeDn, parentNdn, parseDn, reverseNdn } from '#src/directory/managed/engine/dn.ts';

void describe('engine DNs', () => {
  void it('parses escapes, hex pairs, multi-valued RDNs and spaces around separators', () => {
    assert.deepEqual(parseDn('CN=Smith\\, John + uid=js , OU=R\\26D,DC=corp'), [
      [
        { type: 'CN', value: 'Smith, John' },
        { type: 'uid', value: 'js' },
      ],
      [{ type: 'OU', value: 'R&D' }],
      [{ type: 'DC', value: 'corp' }],
    ]);
    assert.deepEqual(parseDn('cn=J\\C3\\BCrgen,dc=x'), [[{ type: 'cn', value: 'Jürgen' }], [{ type: 'dc', value: 'x' }]]);
    assert.deepEqual(parseDn('cn=\\ lead\\ ,dc=x')[0], [{ type: 'cn', value: ' lead ' }]);
    assert.deepEqual(parseDn('cn=\\#hash,dc=x')[0], [{ type: 'cn', value: '#hash' }]);
    assert.deepEqual(parseDn('1.2.3=#04024869,dc=x')[0], [{ type: '1.2.3', value: '#04024869' }]);
    assert.deepEqual(parseDn(''), []);
  });

  void it('refuses what is not a DN', () => {
    for (const bad of ['alice', 'cn=a,', 'cn=', '=x', 'cn=a"b', 'cn=a\\', 'c n=x', 'cn=a\\q']) {
      assert.throws(() => parseDn(bad), DnSyntaxError, bad);
    }
  });

  void it('normalises case-insensitively, sorts multi-valued RDNs, hex-escapes specials', () => {
    assert.equal(normalizeDn('CN=Smith\\, John,OU=Users,DC=Corp'), 'cn=smith\\2c john,ou=users,dc=corp');
    assert.equal(normalizeDn('cn=smith\\2c JOHN , ou=USERS, dc=corp'), 'cn=smith\\2c john,ou=users,dc=corp');
    assert.equal(normalizeDn('uid=b+cn=a,dc=x'), normalizeDn('CN=A+UID=B,DC=X'));
    assert.equal(normalizeDn('CN=ÅSA,DC=x'), 'cn=åsa,dc=x');
    assert.equal(normalizeDn('cn=\\ a,dc=x'), 'cn=\\20a,dc=x');
  });

  void it('formats with AD upper-case types and RFC 4514 escaping, keeping non-ASCII', () => {
    assert.equal(formatDn(parseDn('cn=Smith\\2C John,ou=Users,dc=corp')), 'CN=Smith\\, John,OU=Users,DC=corp');
    assert.equal(formatDn(parseDn('cn=J\\C3\\BCrgen \\3Cx\\3E,dc=x')), 'CN=Jürgen \\<x\\>,DC=x');
    assert.equal(escapeDnValue('#a+b;c="d" '), '\\#a\\+b\\;c\\=\\"d\\"\\ ');
  });

  void it('answers ancestry from the normalised form', () => {
    const users = normalizeDn('CN=Users,DC=corp');
    const alice = normalizeDn('CN=Alice,CN=Users,DC=corp');
    const tricky = normalizeDn('CN=X\\,CN=Users,DC=corp');
    assert.equal(parentNdn(alice), users);
    assert.equal(isChildOf(alice, users), true);
    assert.equal(isWithin(alice, users), true);
    assert.equal(isWithin(tricky, users), false, 'an escaped comma is not a separator');
    assert.equal(isWithin(users, alice), false);
    assert.equal(reverseNdn(alice), 'dc=corp,cn=users,cn=alice');
    assert.equal(parentNdn('dc=corp'), '');
  });
});
