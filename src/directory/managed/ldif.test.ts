import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLdifRecord, LdifSyntaxError, parseLdif } from './ldif.ts';

async function all(text: string) {
  const records = [];
  for await (const record of parseLdif(text.split('\n'))) records.push(record);
  return records;
}

describe('LDIF', () => {
  it('parses content records with folding, base64 values, comments and a version line', async () => {
    const records = await all(
      [
        'version: 1',
        '# people',
        'dn: CN=Zo\u00eb \u00c5ngstr\u00f6m,OU=People,DC=portico,DC=test',
        'objectClass: top',
        'objectClass: user',
        'description: a long value that is',
        '  folded',
        'unicodePwd:: IgBQAGEAcwBzACIA',
        '',
        'dn:: Q049U21pdGhcLCBKb2huLERDPXBvcnRpY28sREM9dGVzdA==',
        'cn: Smith, John',
        '',
      ].join('\n'),
    );
    assert.equal(records.length, 2);
    assert.equal(records[0]?.dn, 'CN=Zoë Ångström,OU=People,DC=portico,DC=test');
    assert.deepEqual(records[0]?.attributes.find((a) => a.type === 'objectClass')?.values.map(String), ['top', 'user']);
    assert.equal(records[0]?.attributes.find((a) => a.type === 'description')?.values[0]?.toString(), 'a long value that is folded');
    assert.equal(records[0]?.attributes.find((a) => a.type === 'unicodePwd')?.values[0]?.toString('utf16le'), '"Pass"');
    assert.equal(records[1]?.dn, 'CN=Smith\\, John,DC=portico,DC=test');
    assert.equal(records[1]?.line, 10);
  });

  it('round-trips values that need base64 and long lines', async () => {
    const record = {
      dn: 'CN=Åsa,DC=portico,DC=test',
      attributes: [
        { type: 'objectGUID', values: [Buffer.from([0, 1, 2, 255])] },
        { type: 'description', values: [Buffer.from(' leading space'), Buffer.from('x'.repeat(200))] },
      ],
    };
    const [parsed] = await all(formatLdifRecord(record));
    assert.equal(parsed?.dn, record.dn);
    assert.deepEqual(parsed?.attributes, record.attributes);
    assert.ok(formatLdifRecord(record).split('\n').every((line) => line.length <= 76));
  });

  it('names the line of a syntax error', async () => {
    await assert.rejects(all('dn: CN=a,DC=x\nno colon here\n'), (error) => error instanceof LdifSyntaxError && error.line === 2);
    await assert.rejects(all('cn: orphan\n'), (error) => error instanceof LdifSyntaxError && /must start with "dn:"/.test(error.message));
    await assert.rejects(all('dn: CN=a\nchangetype: delete\n'), /only content records/);
  });
});
