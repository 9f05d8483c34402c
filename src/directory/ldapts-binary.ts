/**
 * Tells ldapts which of AD's attributes are binary, so that it does not try to decode their
 * values as text.
 *
 * ldapts decodes every value with a strict UTF-8 decoder unless the attribute's type, as the
 * server returns it, ends in `;binary`; on a GUID or SID the decoder throws, ldapts catches it and
 * keeps the bytes — about 8 µs per value, a dozen or more values per sign-in (objectGUID,
 * objectSid, every tokenGroups SID). Asking for `objectGUID;binary` instead does not work: Samba
 * returns nothing for it, and `explicitBufferAttributes` only swaps the bytes back in afterwards.
 * The values come out as Buffers either way (the connector also passes
 * `explicitBufferAttributes`), so this only skips a decode whose result is thrown away.
 *
 * The hook is ldapts' private `Attribute#_isBinaryType` (8.x). Should a later version drop it,
 * nothing is patched and values are decoded as before: slower, never wrong.
 */
import { Attribute } from 'ldapts';

/** AD attributes whose values are bytes, with any attribute options (`;range=…`). */
const adBinaryTypes = /^(objectGUID|objectSid|tokenGroups)(;|$)/i;
const binaryOption = /;binary$/i;

export function isBinaryAttributeType(type: string): boolean {
  return adBinaryTypes.test(type) || binaryOption.test(type);
}

const prototype = Attribute.prototype as unknown as { _isBinaryType?: (this: Attribute) => boolean };

/** True when ldapts was told (it has the hook this relies on). */
export const binaryTypesPatched = typeof prototype._isBinaryType === 'function';

if (binaryTypesPatched) {
  prototype._isBinaryType = function isBinaryType(this: Attribute): boolean {
    return isBinaryAttributeType(this.type || '');
  };
}
