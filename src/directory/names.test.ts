import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accountNameKey, domainOfDn, parseAccountName } from './account-name.ts';
import { escapeDnValue, escapeFilterValue, filter, parseSignInName } from './names.ts';

describe('sign-in names', () => {
  it('parses the three forms', () => {
    assert.deepEqual(parseSignInName('alice@Corp.Example.Test'), { kind: 'upn', upn: 'alice@Corp.Example.Test', suffix: 'corp.example.test' });
    assert.deepEqual(parseSignInName('CORP\\alice'), { kind: 'downLevel', domain: 'CORP', samAccountName: 'alice' });
    assert.deepEqual(parseSignInName(' alice '), { kind: 'samAccountName', samAccountName: 'alice' });
  });

  it('refuses what cannot be an AD name', () => {
    for (const bad of ['', '   ', 'a\u0000b', '*)(objectClass=*', 'CN=Administrator,CN=Users,DC=corp', 'x=y@corp.example.test', 'CORP\\', '\\alice', 'alice@', 'a'.repeat(300), 'al*ce', 'CORP\\a,b']) {
      assert.equal(parseSignInName(bad), null, JSON.stringify(bad));
    }
  });

  it('accepts non-ASCII names', () => {
    assert.deepEqual(parseSignInName('zoë'), { kind: 'samAccountName', samAccountName: 'zoë' });
  });

  it('keeps the domain of a down-level name as typed: NetBIOS or DNS name, however long', () => {
    assert.deepEqual(parseSignInName('CORP.EXAMPLE.TEST\\alice'), { kind: 'downLevel', domain: 'CORP.EXAMPLE.TEST', samAccountName: 'alice' });
    assert.deepEqual(parseSignInName('PORTICO.TEST\\alice'), { kind: 'downLevel', domain: 'PORTICO.TEST', samAccountName: 'alice' });
    assert.deepEqual(parseSignInName(' portico\\Alice '), { kind: 'downLevel', domain: 'portico', samAccountName: 'Alice' });
    for (const bad of ['.corp\\alice', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}\\alice`, 'CORP\\al\\ice']) {
      assert.equal(parseSignInName(bad), null, bad);
    }
  });
});

describe('account names (every spelling of one account)', () => {
  it('reads a DN, with any spacing and case, as a DN', () => {
    const a = parseAccountName('CN=Tom Lock,OU=Engineering,OU=People,OU=Corp,DC=corp,DC=example,DC=test');
    const b = parseAccountName('  cn=tom lock , ou=ENGINEERING,ou=People, OU=Corp,dc=CORP,DC=example , DC=test ');
    assert.equal(a?.kind, 'dn');
    assert.equal(b?.kind, 'dn');
    assert.equal(accountNameKey(a), accountNameKey(b));
    const escaped = parseAccountName('CN=Smith\\, John \\"JJ\\" \\+ Co\\\\Ltd,OU=Sales,DC=corp,DC=example,DC=test');
    assert.equal(escaped?.kind, 'dn');
    assert.equal(domainOfDn('CN=x,OU=y,DC=corp,DC=example,DC=test'), 'corp.example.test');
  });

  it('refuses what is neither a DN nor a name', () => {
    for (const bad of ['*)(objectClass=*', 'CN=a,,DC=b', '=', 'CN=a\u0000,DC=b', `CN=${'a'.repeat(1100)}`]) {
      assert.equal(parseAccountName(bad), null, bad);
    }
  });

  it('reads a GUID as a GUID, not as a sAMAccountName', () => {
    assert.deepEqual(parseAccountName('6F9619FF-8B86-D011-B42D-00C04FC964FF'), { kind: 'guid', guid: '6f9619ff-8b86-d011-b42d-00c04fc964ff' });
  });

  it('gives DOMAIN\\sam, DNS-DOMAIN\\sam and the bare sam one key; a UPN in any case one key', () => {
    const key = (name: string) => accountNameKey(parseAccountName(name)!);
    assert.equal(key('CORP\\TLock1'), key('tlock1'));
    assert.equal(key('corp.example.test\\tlock1'), key('TLOCK1'));
    assert.equal(key('Tara.Lock@Corp.Example.Test'), key('tara.lock@corp.example.test'));
    assert.notEqual(key('tlock2@corp.example.test'), key('tlock2'));
    assert.notEqual(key('6f9619ff-8b86-d011-b42d-00c04fc964ff'), key('6f9619ff-8b86-d011-b42d-00c04fc964fe'));
  });
});

describe('escaping', () => {
  it('escapes every filter metacharacter and NUL', () => {
    assert.equal(escapeFilterValue('*)(objectClass=*'), '\\2a\\29\\28objectClass=\\2a');
    assert.equal(escapeFilterValue('a\u0000b\\c'), 'a\\00b\\5cc');
    assert.equal(escapeFilterValue(Buffer.from([0x01, 0xff])), '\\01\\ff');
    assert.equal(escapeFilterValue('zoë'), 'zo\\c3\\ab');
    // Plain values take a shortcut; every ASCII character still gets the escaping rule.
    for (let b = 0; b < 0x80; b += 1) {
      const kept = b >= 0x20 && b < 0x7f && !'()*\\'.includes(String.fromCharCode(b));
      assert.equal(escapeFilterValue(`a${String.fromCharCode(b)}`), `a${kept ? String.fromCharCode(b) : `\\${b.toString(16).padStart(2, '0')}`}`, `byte ${b}`);
    }
  });

  it('escapes values interpolated into a filter template, never the template', () => {
    const user = '*)(|(objectClass=*';
    assert.equal(filter`(&(objectClass=user)(sAMAccountName=${user}))`, '(&(objectClass=user)(sAMAccountName=\\2a\\29\\28|\\28objectClass=\\2a))');
  });

  it('escapes DN special characters', () => {
    assert.equal(escapeDnValue('Smith, John "JJ" + Co\\Ltd'), 'Smith\\, John \\"JJ\\" \\+ Co\\\\Ltd');
    assert.equal(escapeDnValue('#lead '), '\\#lead\\ ');
  });
});
