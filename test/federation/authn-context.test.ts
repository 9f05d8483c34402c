/**
 * The RequestedAuthnContext decision (src/federation/saml/authn-context.ts), pure: which class
 * the assertion states, when a second factor is asked first, when the SP hears NoAuthnContext;
 * and parsing the element out of an AuthnRequest.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideAuthnContext, satisfiableAtAll, type AuthnComparison, type AuthnContextDecision } from '#src/federation/saml/authn-context.ts';
import { parseAuthnRequest } from '#src/federation/saml/authn-request.ts';
import { isAppError } from '#src/shared/errors.ts';

const PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password';
const MFA = 'https://refeds.org/profile/mfa';
const UNSPECIFIED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';
const KERBEROS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos';
const TIME_SYNC = 'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken';

const req = (comparison: AuthnComparison, ...classRefs: string[]) => ({ comparison, classRefs, declRefs: [] });
const password = { sessionLevel: 1 as const, mfaPossible: true };
const passwordNoMfa = { sessionLevel: 1 as const, mfaPossible: false };
const mfa = { sessionLevel: 2 as const, mfaPossible: true };
const stated = (classRef: string, level: 1 | 2): AuthnContextDecision => ({ kind: 'satisfied', classRef, level });

describe('RequestedAuthnContext decision', () => {
  it('without a request, states what the session did', () => {
    assert.deepEqual(decideAuthnContext(undefined, password), stated(PPT, 1));
    assert.deepEqual(decideAuthnContext(undefined, mfa), stated(MFA, 2));
  });

  it('exact MFA: a password session steps up when it can, else NoAuthnContext; an MFA session states it', () => {
    assert.deepEqual(decideAuthnContext(req('exact', MFA), password), { kind: 'step-up' });
    assert.equal(decideAuthnContext(req('exact', MFA), passwordNoMfa).kind, 'unsatisfiable');
    assert.deepEqual(decideAuthnContext(req('exact', MFA), mfa), stated(MFA, 2));
  });

  it('exact password classes: stated in the SP words, by an MFA session too (it also used the password)', () => {
    assert.deepEqual(decideAuthnContext(req('exact', PASSWORD), password), stated(PASSWORD, 1));
    assert.deepEqual(decideAuthnContext(req('exact', PPT), mfa), stated(PPT, 1));
    // The SP's order decides among the classes the session meets.
    assert.deepEqual(decideAuthnContext(req('exact', MFA, PPT), mfa), stated(MFA, 2));
    assert.deepEqual(decideAuthnContext(req('exact', MFA, PPT), password), stated(PPT, 1));
  });

  it('exact with only unknown classes (TimeSyncToken is not claimed) cannot be met by anyone', () => {
    for (const classRef of [KERBEROS, TIME_SYNC, 'urn:example:made-up']) {
      const decision = decideAuthnContext(req('exact', classRef), mfa);
      assert.equal(decision.kind, 'unsatisfiable');
      assert.equal(satisfiableAtAll(req('exact', classRef)).ok, false);
    }
    // An unknown class beside a known one: the known one is used.
    assert.deepEqual(decideAuthnContext(req('exact', KERBEROS, PPT), password), stated(PPT, 1));
  });

  it('minimum: at least the weakest listed; the strongest the session has is stated', () => {
    assert.deepEqual(decideAuthnContext(req('minimum', PPT), password), stated(PPT, 1));
    assert.deepEqual(decideAuthnContext(req('minimum', PPT), mfa), stated(MFA, 2));
    assert.deepEqual(decideAuthnContext(req('minimum', MFA), password), { kind: 'step-up' });
    assert.deepEqual(decideAuthnContext(req('minimum', MFA, PPT), password), stated(PPT, 1));
    assert.equal(decideAuthnContext(req('minimum', KERBEROS), mfa).kind, 'unsatisfiable');
  });

  it('better: stronger than every listed class; nothing is stronger than MFA', () => {
    assert.deepEqual(decideAuthnContext(req('better', PPT), password), { kind: 'step-up' });
    assert.deepEqual(decideAuthnContext(req('better', PPT), mfa), stated(MFA, 2));
    assert.equal(decideAuthnContext(req('better', MFA), mfa).kind, 'unsatisfiable');
    assert.equal(satisfiableAtAll(req('better', MFA)).ok, false);
    assert.equal(decideAuthnContext(req('better', PPT), passwordNoMfa).kind, 'unsatisfiable');
  });

  it('maximum: no stronger than the strongest listed, as strong as the session is', () => {
    assert.deepEqual(decideAuthnContext(req('maximum', PPT), mfa), stated(PPT, 1));
    assert.deepEqual(decideAuthnContext(req('maximum', MFA), mfa), stated(MFA, 2));
    assert.deepEqual(decideAuthnContext(req('maximum', MFA), password), stated(PPT, 1));
  });

  it('unspecified is met by any session at its own level', () => {
    assert.deepEqual(decideAuthnContext(req('exact', UNSPECIFIED), password), stated(PPT, 1));
    assert.deepEqual(decideAuthnContext(req('minimum', UNSPECIFIED), mfa), stated(MFA, 2));
  });

  it('a DeclRef is not supported', () => {
    assert.equal(decideAuthnContext({ comparison: 'exact', classRefs: [], declRefs: ['urn:example:decl'] }, mfa).kind, 'unsatisfiable');
  });
});

describe('RequestedAuthnContext in an AuthnRequest', () => {
  const xml = (inner: string) =>
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://sp.test</saml:Issuer>${inner}</samlp:AuthnRequest>`;

  it('reads the comparison (exact by default) and the class references in order', () => {
    assert.equal(parseAuthnRequest(xml('')).requestedAuthnContext, undefined);
    const parsed = parseAuthnRequest(xml(`<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef> ${MFA} </saml:AuthnContextClassRef><saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`));
    assert.deepEqual(parsed.requestedAuthnContext, { comparison: 'minimum', classRefs: [MFA, PPT], declRefs: [] });
    const exact = parseAuthnRequest(xml(`<samlp:RequestedAuthnContext><saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`));
    assert.equal(exact.requestedAuthnContext?.comparison, 'exact');
  });

  it('refuses a bad comparison, an empty element and too many references', () => {
    const refusals = [
      `<samlp:RequestedAuthnContext Comparison="stronger"><saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`,
      `<samlp:RequestedAuthnContext Comparison="exact"></samlp:RequestedAuthnContext>`,
      `<samlp:RequestedAuthnContext>${`<saml:AuthnContextClassRef>${PPT}</saml:AuthnContextClassRef>`.repeat(17)}</samlp:RequestedAuthnContext>`,
      `<samlp:RequestedAuthnContext><saml:AuthnContextClassRef></saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`,
    ];
    for (const inner of refusals) {
      assert.throws(
        () => parseAuthnRequest(xml(inner)),
        (error) => isAppError(error, 'saml.request_malformed'),
        inner,
      );
    }
  });
});
