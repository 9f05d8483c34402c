import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '#src/shared/errors.ts';
import { HTTP_POST_BINDING, parseSpMetadata } from './sp-metadata.ts';

// Self-signed P-256 certificates made with openssl for these tests.
const SIGNING_CERT =
  'MIIBkTCCATegAwIBAgIUSWfUrAe+xLk1t6z/H17eOnBDLukwCgYIKoZIzj0EAwIwHjEcMBoGA1UEAwwTc3AuZXhhbXBsZS5jb20gc2lnbjAeFw0yNjExMjcwMTE0MjFaFw0zNjExMjQwMTE0MjFaMB4xHDAaBgNVBAMME3NwLmV4YW1wbGUuY29tIHNpZ24wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATXAR5CSGGMx8WLHXBYVszR3wUZ8QOG623F0VgN4gA86nmvtQJ8v5KDMNtX1x60aJQoOJFUXYOtmA8bIwJ4kNRao1MwUTAdBgNVHQ4EFgQUgwBs6rS/t9fMV2pT2k0D6doBYdwwHwYDVR0jBBgwFoAUgwBs6rS/t9fMV2pT2k0D6doBYdwwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAd47ZaaMvJNmcDakMs/GHVxFKio2D1Bhc4p65YhyB/KgIhANl7l6qvlfUBfucuz/FFdH+Lj1Mgtbd+CORlcb4T2Nk2';
const ENCRYPTION_CERT =
  'MIIBjjCCATWgAwIBAgIUL/wJJ3ZexJjZDuRc7zj9A+Pn5sQwCgYIKoZIzj0EAwIwHTEbMBkGA1UEAwwSc3AuZXhhbXBsZS5jb20gZW5jMB4XDTI2MTEyNzAxMTQyMVoXDTM2MTEyNDAxMTQyMVowHTEbMBkGA1UEAwwSc3AuZXhhbXBsZS5jb20gZW5jMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+NI2Ol+A4O87GnUn6M8sJv8zyAOwZiUWPJ8OoK0CgT6HJ0pAM9u8oPAyoAIYHY+4B+FekZuSY4SVqa1XPhyX4qNTMFEwHQYDVR0OBBYEFJD6jQnHNFg5jZC7/7Eai7/O+4YlMB8GA1UdIwQYMBaAFJD6jQnHNFg5jZC7/7Eai7/O+4YlMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgFB0tISGb6pCr/VTyJw743bFC/5HnLlRXtRYYYqHldDICIDOPDMlSAKBmmY4m47uQFD6k7TLFSray61BIweYXqtFV';
const wrapped = (base64: string) => `\n${base64.replace(/.{64}/g, '$&\n')}\n`;

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';

// Shaped like pysaml2's output: ns0/ns1 prefixes, certificates wrapped at 64 columns.
const PYSAML2 = `<?xml version='1.0' encoding='UTF-8'?>
<ns0:EntityDescriptor xmlns:ns0="${MD}" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example.com/saml2/metadata/">
  <ns0:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="${PROTOCOL}">
    <ns0:KeyDescriptor use="signing">
      <ns1:KeyInfo><ns1:X509Data><ns1:X509Certificate>${wrapped(SIGNING_CERT)}</ns1:X509Certificate></ns1:X509Data></ns1:KeyInfo>
    </ns0:KeyDescriptor>
    <ns0:KeyDescriptor use="encryption">
      <ns1:KeyInfo><ns1:X509Data><ns1:X509Certificate>${wrapped(ENCRYPTION_CERT)}</ns1:X509Certificate></ns1:X509Data></ns1:KeyInfo>
      <ns0:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
    </ns0:KeyDescriptor>
    <ns0:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example.com/saml2/ls/"/>
    <ns0:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</ns0:NameIDFormat>
    <ns0:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</ns0:NameIDFormat>
    <ns0:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.example.com/saml2/acs/artifact/" index="0"/>
    <ns0:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="https://sp.example.com/saml2/acs/post/" index="1" isDefault="true"/>
  </ns0:SPSSODescriptor>
  <ns0:Organization><ns0:OrganizationName xml:lang="en">Example</ns0:OrganizationName></ns0:Organization>
</ns0:EntityDescriptor>`;

/** A minimal SP EntityDescriptor (md: prefix, as Keycloak writes it) with the given attributes and SPSSODescriptor content. */
const entity = (inner = `<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="https://app.example.com/acs" index="0"/>`, entityIdAttr = 'entityID="https://app.example.com"') =>
  `<md:EntityDescriptor xmlns:md="${MD}" ${entityIdAttr}><md:SPSSODescriptor protocolSupportEnumeration="${PROTOCOL}">${inner}</md:SPSSODescriptor></md:EntityDescriptor>`;

const refused = (xml: string, message: RegExp) =>
  assert.throws(() => parseSpMetadata(xml), (error) => isAppError(error, 'access.metadata_invalid') && error.status === 400 && message.test(error.message));

void describe('parseSpMetadata', () => {
  it('reads pysaml2-style metadata: ACS default first, certificates by use, NameID formats, SLO, flags', () => {
    assert.deepEqual(parseSpMetadata(PYSAML2), {
      entityId: 'https://sp.example.com/saml2/metadata/',
      acsUrls: [
        { url: 'https://sp.example.com/saml2/acs/post/', binding: HTTP_POST_BINDING, index: 1, isDefault: true },
        { url: 'https://sp.example.com/saml2/acs/artifact/', binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact', index: 0, isDefault: false },
      ],
      nameIdFormats: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
      signingCertificates: [SIGNING_CERT],
      encryptionCertificates: [ENCRYPTION_CERT],
      authnRequestsSigned: true,
      wantAssertionsSigned: true,
      logoutUrls: [{ url: 'https://sp.example.com/saml2/ls/', binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect' }],
    });
  });

  it('reads the one SP inside an EntitiesDescriptor; a key without use serves both; lowest index wins without isDefault', () => {
    const key = `<md:KeyDescriptor><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${SIGNING_CERT}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
    const acs = [3, 2].map((i) => `<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="https://app.example.com/acs/${i}" index="${i}"/>`).join('');
    const idp = `<md:EntityDescriptor entityID="https://idp.example.com"><md:IDPSSODescriptor protocolSupportEnumeration="${PROTOCOL}"/></md:EntityDescriptor>`;
    const metadata = parseSpMetadata(`<md:EntitiesDescriptor xmlns:md="${MD}">${idp}${entity(key + acs).replace(/ xmlns:md="[^"]+"/, '')}</md:EntitiesDescriptor>`);
    assert.equal(metadata.entityId, 'https://app.example.com');
    assert.deepEqual(metadata.acsUrls.map((a) => a.index), [2, 3]);
    assert.deepEqual(metadata.signingCertificates, [SIGNING_CERT]);
    assert.deepEqual(metadata.encryptionCertificates, [SIGNING_CERT]);
    assert.equal(metadata.authnRequestsSigned, false);
    assert.deepEqual(metadata.logoutUrls, []);
  });

  it('refuses the billion-laughs bomb before parsing, quickly', () => {
    const levels = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('\n');
    const bomb = `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 "lol">\n${levels}\n]>\n<lolz>&lol9;</lolz>`;
    const started = performance.now();
    refused(bomb, /DOCTYPE, which is not allowed/);
    assert.ok(performance.now() - started < 50);
  });

  it('refuses external entities (XXE), any DOCTYPE and bare entity declarations', () => {
    refused(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${entity().replace('https://app.example.com"', '&e;"')}`, /DOCTYPE/);
    refused(`<!doctype md:EntityDescriptor>${entity()}`, /DOCTYPE/);
    refused(`<!ENTITY e "x">${entity()}`, /entity declaration \(<!ENTITY\)/);
  });

  it('refuses what is not well-formed XML without printing anything', (t) => {
    const printed = [t.mock.method(console, 'error'), t.mock.method(console, 'warn'), t.mock.method(console, 'log')];
    refused('', /the metadata is empty/);
    refused('this is not XML, it is a certificate or a URL', /not well-formed XML: missing root element/);
    refused(PYSAML2.slice(0, PYSAML2.indexOf('<ns0:Organization>')), /not well-formed XML: unclosed xml tag\(s\): ns0:EntityDescriptor/);
    refused(`${entity()}<md:EntityDescriptor/>`, /not well-formed XML/);
    refused(`<md:EntityDescriptor xmlns:md="${MD}" entityID>`, /not well-formed XML/);
    assert.equal(printed.reduce((calls, mock) => calls + mock.mock.callCount(), 0), 0);
  });

  it('refuses input over 1 MiB', () => {
    refused(entity(`<!--${'x'.repeat(2 * 1024 * 1024)}-->`), /larger than 1 MiB/);
  });

  it('refuses metadata that describes no SP, or several', () => {
    refused(`<md:EntityDescriptor xmlns:md="${MD}" entityID="https://idp.example.com"><md:IDPSSODescriptor protocolSupportEnumeration="${PROTOCOL}"/></md:EntityDescriptor>`, /describes no service provider \(SPSSODescriptor\)/);
    refused(`<md:EntitiesDescriptor xmlns:md="${MD}">${entity()}${entity()}</md:EntitiesDescriptor>`, /describes 2 service providers/);
    refused('<EntityDescriptor entityID="x"/>', /root element must be EntityDescriptor or EntitiesDescriptor in namespace urn:oasis:names:tc:SAML:2\.0:metadata, not <EntityDescriptor>/);
  });

  it('refuses a missing, empty or oversized entityID', () => {
    refused(entity(undefined, ''), /has no entityID/);
    refused(entity(undefined, 'entityID=" "'), /has no entityID/);
    refused(entity(undefined, `entityID="https://app.example.com/${'a'.repeat(1024)}"`), /longer than 1024 characters/);
  });

  it('requires an HTTP-POST ACS with an absolute http(s) Location', () => {
    refused(entity('<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://app.example.com/acs" index="0"/>'), /no AssertionConsumerService with the HTTP-POST binding/);
    refused(entity(`<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="/saml/acs" index="0"/>`), /AssertionConsumerService Location "\/saml\/acs" is not an absolute http\(s\) URL/);
    refused(entity(`<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="javascript:alert(1)" index="0"/>`), /Location "javascript:alert\(1\)"/);
    refused(entity(`<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" index="0"/>`), /AssertionConsumerService has no Location/);
    refused(entity(`<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="https://app.example.com/acs" index="-1"/>`), /index "-1" is not a number/);
  });

  it('echoes at most about 100 characters of input', () => {
    const long = `/${'a'.repeat(5000)}`;
    assert.throws(
      () => parseSpMetadata(entity(`<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="${long}" index="0"/>`)),
      (error) => isAppError(error, 'access.metadata_invalid') && error.message.length < 200,
    );
  });

  it('refuses a certificate that is not base64 DER X.509', () => {
    const acs = `<md:AssertionConsumerService Binding="${HTTP_POST_BINDING}" Location="https://app.example.com/acs" index="0"/>`;
    refused(entity(`${acs}<md:KeyDescriptor use="signing"><ds:X509Certificate xmlns:ds="http://www.w3.org/2000/09/xmldsig#">bm90IGEgY2VydA==</ds:X509Certificate></md:KeyDescriptor>`), /KeyDescriptor use="signing" holds an X509Certificate that is not/);
  });
});
