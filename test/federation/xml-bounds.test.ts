/**
 * The bounds on what a service provider may send, checked before any parser or signature work
 * (issue 12): message size, element count, nesting depth, attributes per element, RelayState
 * length in both bindings, and a signature whose value does not verify refused before
 * xml-crypto digests the document.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { SignedXml } from 'xml-crypto';
import { acceptAuthnRequest, decodePost, decodeRedirect } from '#src/federation/saml/authn-request.ts';
import { MAX_RELAY_STATE_BYTES } from '#src/federation/saml/binding.ts';
import { XML_BOUNDS, checkXmlBounds, parseSamlXml } from '#src/federation/saml/xml.ts';
import { isAppError, type ErrorCode } from '#src/shared/errors.ts';
import { application, authnRequestXml, finder, redirectQuery, serviceProvider, spSigningCert, stored } from './saml-fixtures.ts';

const signedApp = application({ signingCertificate: stored(spSigningCert.certPem) });

function refusedWith(attempt: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(attempt, (error) => {
    assert.ok(isAppError(error, code), `expected ${code}, got ${String(error)}`);
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

const withExtensions = (inner: string, attributes: Record<string, string> = {}) => authnRequestXml(attributes).replace('</samlp:AuthnRequest>', `<samlp:Extensions>${inner}</samlp:Extensions></samlp:AuthnRequest>`);

void describe('XML bounds', () => {
  it('lets a real request through: node-saml, signed over HTTP-POST', async () => {
    const sp = serviceProvider({ privateKey: spSigningCert.keyPem, authnRequestBinding: 'HTTP-POST', skipRequestCompression: true });
    const fields = (await sp.getAuthorizeMessageAsync('relay', undefined, {})) as Record<string, string>;
    checkXmlBounds(Buffer.from(fields.SAMLRequest ?? '', 'base64').toString());
    const accepted = await acceptAuthnRequest(decodePost(fields), { findApplication: finder(signedApp) });
    assert.equal(accepted.signed, true);
  });

  it('counts elements, depth and attributes, but not what looks like markup in comments, CDATA, or attribute values', () => {
    const quiet = `<!--${'<a>'.repeat(1000)}--><![CDATA[${'<b>'.repeat(1000)}]]>`;
    parseSamlXml(withExtensions(`<x v="${'&lt;'.repeat(10)} > = = ="/>${quiet}<?pi <c> <d> ?>`));
    checkXmlBounds(withExtensions('<e/>'.repeat(XML_BOUNDS.maxElements - 3)));
    refusedWith(() => checkXmlBounds(withExtensions('<e/>'.repeat(XML_BOUNDS.maxElements))), 'saml.request_too_large', /more than 512 elements/);
    refusedWith(() => parseSamlXml(withExtensions('<e>'.repeat(40) + '</e>'.repeat(40))), 'saml.request_too_large', /nested more than 24 deep/);
    checkXmlBounds(withExtensions('<e>'.repeat(20) + '</e>'.repeat(20)));
    const many = Array.from({ length: 33 }, (_, i) => `a${i}="="`).join(' ');
    refusedWith(() => parseSamlXml(withExtensions(`<e ${many}/>`)), 'saml.request_too_large', /more than 32 attributes/);
  });

  it('refuses a message over 64 KiB, and nested elements from a tiny HTTP-Redirect request within a millisecond budget', () => {
    refusedWith(() => parseSamlXml(withExtensions(`<e>${'x'.repeat(XML_BOUNDS.maxBytes)}</e>`)), 'saml.request_too_large', /64 KiB/);
    const head = authnRequestXml().replace('</samlp:AuthnRequest>', '');
    const nested = head + '<a>'.repeat(Math.floor((XML_BOUNDS.maxBytes - head.length) / 3));
    const message = decodeRedirect(redirectQuery(nested));
    const started = performance.now();
    refusedWith(() => parseSamlXml(message.xml), 'saml.request_too_large', /nested more than 24 deep/);
    assert.ok(performance.now() - started < 20);
  });

  it('refuses a RelayState over 1 KiB (UTF-8 bytes) in both bindings; accepts exactly 1 KiB', () => {
    assert.equal(MAX_RELAY_STATE_BYTES, 1024);
    const xml = authnRequestXml();
    const post = (relayState: string) => decodePost({ SAMLRequest: Buffer.from(xml).toString('base64'), RelayState: relayState });
    assert.equal(post('a'.repeat(1024)).relayState?.length, 1024);
    refusedWith(() => post('a'.repeat(1025)), 'saml.relay_state_too_long', /longer than 1024 bytes/);
    refusedWith(() => post('é'.repeat(513)), 'saml.relay_state_too_long', /1024/);
    const query = `SAMLRequest=${encodeURIComponent(deflateRawSync(xml).toString('base64'))}`;
    assert.equal(decodeRedirect(`${query}&RelayState=${'b'.repeat(1024)}`).relayState?.length, 1024);
    refusedWith(() => decodeRedirect(`${query}&RelayState=${encodeURIComponent('€'.repeat(342))}`), 'saml.relay_state_too_long', /1024/);
  });
});

void describe('enveloped signature checks before any digest', () => {
  const forged = (extensions: string, canonicalization = 'http://www.w3.org/2001/10/xml-exc-c14n#') => {
    const id = '_forged';
    const signature =
      `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${canonicalization}"/>` +
      `<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#${id}"><ds:Transforms>` +
      `<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
      `<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>${randomBytes(32).toString('base64')}</ds:DigestValue></ds:Reference></ds:SignedInfo>` +
      `<ds:SignatureValue>${randomBytes(256).toString('base64')}</ds:SignatureValue></ds:Signature>`;
    const xml = authnRequestXml({ ID: id }).replace('</saml:Issuer>', `</saml:Issuer>${signature}<samlp:Extensions>${extensions}</samlp:Extensions>`);
    return decodePost({ SAMLRequest: Buffer.from(xml).toString('base64') });
  };

  it('a forged signature over the largest document allowed is refused in milliseconds, without xml-crypto digesting the document', async (t) => {
    const message = forged('<e a="1"/>'.repeat(XML_BOUNDS.maxElements - 20));
    const checks = t.mock.method(SignedXml.prototype, 'checkSignature');
    const timings: number[] = [];
    for (let i = 0; i < 3; i++) {
      // CPU time, not wall time: the machine running the tests may be busy with other work.
      const started = process.cpuUsage();
      await assert.rejects(acceptAuthnRequest(message, { findApplication: finder(signedApp) }), (error) => isAppError(error, 'saml.signature_invalid'));
      const used = process.cpuUsage(started);
      timings.push((used.user + used.system) / 1000);
    }
    assert.equal(checks.mock.callCount(), 0, 'xml-crypto never walked the references');
    assert.ok(Math.min(...timings) < 50, `${timings.map((m) => m.toFixed(1)).join(', ')} ms of CPU`);
  });

  it('refuses inclusive canonicalisation of SignedInfo', async () => {
    await assert.rejects(acceptAuthnRequest(forged('', 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315'), { findApplication: finder(signedApp) }), (error) => isAppError(error, 'saml.signature_invalid') && /exclusive/.test(error.message));
  });
});
