import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeDnValue, escapeFilterValue, filter, parseSignInName } from './names.ts';

describe('sign-in names', () => {
  it('parses the three forms', () => {
    assert.deepEqual(parseSignInName('alice@Corp.Example.Test'), { kind: 'upn', upn: 'alice@Corp.Example.Test', suffix: 'corp.example.test' });
    assert.deepEqual(parseSignInName('CORP\\alice'), { kind: 'downLevel', netbiosName: 'CORP', samAccountName: 'alice' });
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
