/**
 * The assertion Portico signs without re-reading it must be, byte for byte, what exclusive c14n
 * makes of it — checked against xml-crypto's canonicaliser, with values chosen to break escaping
 * and attribute order — and its signature must verify with xml-crypto.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { ExclusiveCanonicalization, SignedXml } from 'xml-crypto';
import { signCanonicalElement } from '#src/federation/saml/canonical-signature.ts';
import { certificatePem } from '#src/federation/saml/keys.ts';
import { buildResponse } from '#src/federation/saml/response.ts';
import { NS } from '#src/federation/saml/xml.ts';
import { SP_ACS_URL, application, idp, idpCert, user } from './saml-fixtures.ts';

const tricky = 'a&b <c> "d" \'e\' \tf\ng\r\nh ]]> Zoë 😀 \u0001';

function assertionOf(xml: string): Element {
  const document = new DOMParser().parseFromString(xml, 'text/xml');
  const assertion = document.getElementsByTagNameNS(NS.assertion, 'Assertion')[0];
  assert.ok(assertion);
  return assertion;
}

function canonical(element: Element): string {
  const copy = element.cloneNode(true) as Element;
  for (const signature of Array.from(copy.getElementsByTagNameNS(NS.dsig, 'Signature'))) signature.parentNode?.removeChild(signature);
  return new ExclusiveCanonicalization().process(copy, { inclusiveNamespacesPrefixList: ['xs', 'xsi'] });
}

describe('signing an assertion written in canonical form', () => {
  it('is its own exclusive canonical form, whatever the values hold', () => {
    const built = buildResponse({
      idp: { ...idp, entityId: `https://idp.example.test/?q=${tricky}` },
      application: application({ entityId: `urn:sp:${tricky}` }),
      user: user(),
      nameIdSecret: 'secret',
      acsUrl: `${SP_ACS_URL}?x=1&y="2"`,
      inResponseTo: '_req&<>"1',
      sessionIndex: `_s ${tricky}`,
      attributes: [
        { name: `attr ${tricky}`, nameFormat: 'uri', values: [tricky, '', '   ', 'plain'] },
        { name: 'second', nameFormat: 'basic', values: ['x'] },
      ],
    });
    const assertion = assertionOf(built.xml);
    const expected = canonical(assertion);
    const written = built.xml.slice(built.xml.indexOf('<saml:Assertion'), built.xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length).replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '');
    assert.equal(written, expected);
  });

  it('verifies with xml-crypto, and not once altered', () => {
    const built = buildResponse({ idp, application: application(), user: user(), nameIdSecret: 'secret', acsUrl: SP_ACS_URL, attributes: [{ name: 'dept', nameFormat: 'basic', values: [tricky] }] });
    const check = (xml: string) => {
      const verifier = new SignedXml({ publicCert: certificatePem(idpCert.certPem) });
      const assertion = assertionOf(xml);
      const signature = assertion.getElementsByTagNameNS(NS.dsig, 'Signature')[0];
      assert.ok(signature);
      verifier.loadSignature(signature);
      return verifier.checkSignature(xml);
    };
    assert.equal(check(built.xml), true);
    const tampered = built.xml.replace(/(<saml:AttributeValue[^>]*>)a/, '$1A');
    assert.notEqual(tampered, built.xml);
    let verdict: boolean | Error;
    try {
      verdict = check(tampered);
    } catch (error) {
      verdict = error as Error;
    }
    assert.ok(verdict !== true, 'a changed value does not verify');
  });

  it('refuses an element without the place for the signature', () => {
    assert.throws(() => signCanonicalElement({ xml: '<a ID="x"></a>', id: 'x', signatureAfter: '</saml:Issuer>', inclusivePrefixes: [] }, idp.signing), /not found/);
  });
});
