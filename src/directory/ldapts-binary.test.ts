import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Attribute, BerReader, BerWriter } from 'ldapts';
import { binaryTypesPatched, isBinaryAttributeType } from './ldapts-binary.ts';

/** One attribute (type and values) as it arrives in a search entry, parsed by ldapts. */
function parsed(type: string, values: Buffer[]): Attribute {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeString(type);
  writer.startSequence(0x31); // SET OF values
  for (const value of values) writer.writeBuffer(value, 0x04);
  writer.endSequence();
  writer.endSequence();
  const attribute = new Attribute();
  attribute.parse(new BerReader(writer.buffer));
  return attribute;
}

describe('binary attribute types for ldapts', () => {
  it('names AD binary attributes, with options and in any case, and ;binary types', () => {
    for (const type of ['objectGUID', 'objectguid', 'OBJECTSID', 'tokenGroups', 'tokenGroups;range=0-*', 'userCertificate;binary']) {
      assert.equal(isBinaryAttributeType(type), true, type);
    }
    for (const type of ['cn', 'objectClass', 'objectGUIDs', 'memberOf;range=0-1499', 'sAMAccountName']) {
      assert.equal(isBinaryAttributeType(type), false, type);
    }
  });

  it('is in effect in the installed ldapts: a GUID that happens to be valid UTF-8 stays bytes', () => {
    assert.ok(binaryTypesPatched, "ldapts no longer has Attribute#_isBinaryType: binary values are decoded again (slower, still correct)");
    const guid = Buffer.from('0123456789abcdef', 'latin1');
    assert.deepEqual(parsed('objectGUID', [guid]).values, [guid]);
    const sids = [Buffer.from([1, 1, 0, 0, 0, 0, 0, 5, 0x0b, 0, 0, 0]), Buffer.from([1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x21, 0x02, 0, 0])];
    assert.deepEqual(parsed('tokenGroups', sids).values, sids);
  });

  it('still decodes text attributes', () => {
    assert.deepEqual(parsed('displayName', [Buffer.from('Zoë', 'utf8')]).values, ['Zoë']);
  });
});
