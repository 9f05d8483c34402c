import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchTotp, newTotpSecret, normaliseTotpCode, totpCode, totpStep, totpUri } from './totp.ts';

// RFC 6238 appendix B: the SHA-1 seed "12345678901234567890", 8 digits there; 6 here are its last 6.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('TOTP', () => {
  it('computes the RFC 6238 SHA-1 test vectors (last six digits)', () => {
    assert.equal(totpCode(RFC_SECRET, new Date(59_000)), '287082');
    assert.equal(totpCode(RFC_SECRET, new Date(1_111_111_109_000)), '081804');
    assert.equal(totpCode(RFC_SECRET, new Date(1_234_567_890_000)), '005924');
  });

  it('accepts the code of the current step and of one step either side, and nothing further', () => {
    const now = new Date(1_700_000_015_000);
    const step = totpStep(now);
    for (const delta of [-1, 0, 1]) {
      assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(now.getTime() + delta * 30_000)), now), step + delta, `step ${delta}`);
    }
    for (const delta of [-3, -2, 2, 3]) {
      assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(now.getTime() + delta * 30_000)), now), null, `step ${delta}`);
    }
  });

  it('reads codes with spaces, refuses anything that is not six digits', () => {
    const now = new Date(1_700_000_015_000);
    const code = totpCode(RFC_SECRET, now);
    assert.equal(matchTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, now), totpStep(now));
    for (const bad of ['', '12345', '1234567', 'abcdef', `${code}0`]) assert.equal(normaliseTotpCode(bad) === null || matchTotp(RFC_SECRET, bad, now) === null, true, bad);
  });

  it('makes 160-bit base32 secrets and an otpauth URI authenticator apps read', () => {
    const secret = newTotpSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.notEqual(secret, newTotpSecret());
    const uri = new URL(totpUri(secret, 'alice@corp.example.test', 'Portico'));
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(uri.searchParams.get('secret'), secret);
    assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
    assert.equal(uri.searchParams.get('digits'), '6');
    assert.equal(uri.searchParams.get('period'), '30');
    assert.equal(uri.searchParams.get('issuer'), 'Portico');
  });
});
