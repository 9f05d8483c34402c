import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCodeVerifier, isS256Challenge, matchRedirectUri, redirectUriProblem, splitScopes, verifierMatches } from './authorization-code.ts';

void describe('authorization code with PKCE: pure checks', () => {
  void it('registers loopback http redirect URIs only', () => {
    assert.equal(redirectUriProblem('http://127.0.0.1/oauth/callback'), null);
    assert.equal(redirectUriProblem('http://127.0.0.1:8080/cb'), null);
    assert.equal(redirectUriProblem('http://[::1]/oauth/callback'), null);
    for (const bad of ['https://127.0.0.1/cb', 'http://example.com/cb', 'http://localhost/cb', 'http://127.0.0.1/cb#x', 'http://u:p@127.0.0.1/cb', 'not a url', 'custom:/cb']) {
      assert.notEqual(redirectUriProblem(bad), null, bad);
    }
  });

  void it('matches a redirect URI exactly apart from the port (RFC 8252 §7.3)', () => {
    const registered = ['http://127.0.0.1/oauth/callback'];
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:54321/oauth/callback'), registered[0]);
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1/oauth/callback'), registered[0]);
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:54321/oauth/callback/'), null, 'another path');
    assert.equal(matchRedirectUri(registered, 'http://127.0.0.1:54321/oauth/callback?x=1'), null, 'a query that was not registered');
    assert.equal(matchRedirectUri(registered, 'http://[::1]:54321/oauth/callback'), null, 'another host');
    assert.equal(matchRedirectUri(registered, 'https://127.0.0.1:54321/oauth/callback'), null, 'another scheme');
    assert.equal(matchRedirectUri([], 'http://127.0.0.1/oauth/callback'), null);
  });

  void it('checks S256 as RFC 7636 appendix B does', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
    assert.equal(isS256Challenge(challenge), true);
    assert.equal(verifierMatches(verifier, challenge), true);
    assert.equal(verifierMatches(`${verifier.slice(0, -1)}l`, challenge), false);
    assert.equal(verifierMatches(challenge, challenge), false, 'plain is not accepted');
    assert.equal(isCodeVerifier('short'), false);
    assert.equal(isCodeVerifier('a'.repeat(129)), false);
    assert.equal(isCodeVerifier(`${'a'.repeat(42)}!`), false);
    assert.equal(isS256Challenge('too-short'), false);
  });

  void it('splits scopes joined by commas or spaces', () => {
    assert.deepEqual(splitScopes('sso:account:access'), ['sso:account:access']);
    assert.deepEqual(splitScopes('a, b c'), ['a', 'b', 'c']);
    assert.deepEqual(splitScopes(''), []);
  });
});
