import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodeAccessReply,
  decodePacket,
  encodeAccessReply,
  encodeAccessRequest,
  encodePacket,
  hidePassword,
  RadiusAttribute,
  RadiusCode,
  RadiusPacketError,
  type RadiusPacketErrorCode,
  responseAuthenticator,
  revealPassword,
} from './packet.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// RFC 2865 §7.1 (User Telnet to Specified Host): shared secret "xyzzy5461", password "arctangent".
const RFC_SECRET = Buffer.from('xyzzy5461');
const RFC_ACCESS_REQUEST = hex(`01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
  01 10 05 06 00 00 00 03`);
const RFC_ACCESS_ACCEPT = hex(`02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03`);
// RFC 2865 §7.3 (User with Challenge-Response card): the Access-Challenge.
const RFC_ACCESS_CHALLENGE = hex(`0b 02 00 4e 36 f3 c8 76 4a e8 c7 11 57 40 3c 0c
  71 ff 9c 45 12 30 43 68 61 6c 6c 65 6e 67 65 20 33 32 37 36 39 34 33 30 2e 20 20 45 6e 74 65 72
  20 72 65 73 70 6f 6e 73 65 20 61 74 20 70 72 6f 6d 70 74 2e 18 0a 33 32 37 36 39 34 33 30`);
const RFC_REQUEST_AUTHENTICATOR = RFC_ACCESS_REQUEST.subarray(4, 20);

function packetError(fn: () => unknown, code: RadiusPacketErrorCode): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof RadiusPacketError, `expected a RadiusPacketError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

void describe('RADIUS codec: RFC 2865 §7 examples', () => {
  void it('parses the §7.1 Access-Request and reveals "arctangent" from its User-Password', () => {
    const packet = decodePacket(RFC_ACCESS_REQUEST);
    assert.equal(packet.code, RadiusCode.AccessRequest);
    assert.equal(packet.identifier, 0);
    assert.deepEqual(
      packet.attributes.map((a) => a.type),
      [RadiusAttribute.UserName, RadiusAttribute.UserPassword, RadiusAttribute.NasIpAddress, 5],
    );
    assert.equal(packet.attributes[0]?.value.toString(), 'nemo');
    const hidden = packet.attributes[1]?.value ?? Buffer.alloc(0);
    assert.equal(revealPassword(hidden, RFC_SECRET, RFC_REQUEST_AUTHENTICATOR).toString(), 'arctangent');
    // Hiding is deterministic given the authenticator: our bytes are the RFC's.
    assert.deepEqual(hidePassword('arctangent', RFC_SECRET, RFC_REQUEST_AUTHENTICATOR), hidden);
    // Re-encoding the parsed packet gives the same bytes.
    assert.deepEqual(encodePacket(packet), RFC_ACCESS_REQUEST);
  });

  void it('computes the §7.1 Access-Accept Response Authenticator and accepts the reply', () => {
    assert.deepEqual(responseAuthenticator(RFC_ACCESS_ACCEPT, RFC_REQUEST_AUTHENTICATOR, RFC_SECRET), RFC_ACCESS_ACCEPT.subarray(4, 20));
    const reply = decodeAccessReply(RFC_ACCESS_ACCEPT, { requestAuthenticator: RFC_REQUEST_AUTHENTICATOR, secret: RFC_SECRET, requireMessageAuthenticator: false });
    assert.deepEqual(reply, { code: RadiusCode.AccessAccept, identifier: 0, replyMessage: undefined });
  });

  void it('refuses the §7.1 Access-Accept under another secret or another request: radius_bad_authenticator', () => {
    packetError(
      () => decodeAccessReply(RFC_ACCESS_ACCEPT, { requestAuthenticator: RFC_REQUEST_AUTHENTICATOR, secret: Buffer.from('xyzzy5462'), requireMessageAuthenticator: false }),
      'radius_bad_authenticator',
    );
    packetError(
      () => decodeAccessReply(RFC_ACCESS_ACCEPT, { requestAuthenticator: randomBytes(16), secret: RFC_SECRET, requireMessageAuthenticator: false }),
      'radius_bad_authenticator',
    );
    // The RFC's reply has no Message-Authenticator: refused when one is required.
    packetError(
      () => decodeAccessReply(RFC_ACCESS_ACCEPT, { requestAuthenticator: RFC_REQUEST_AUTHENTICATOR, secret: RFC_SECRET, requireMessageAuthenticator: true }),
      'radius_missing_message_authenticator',
    );
  });

  void it('parses the §7.3 Access-Challenge: Reply-Message and State', () => {
    const packet = decodePacket(RFC_ACCESS_CHALLENGE);
    assert.equal(packet.code, RadiusCode.AccessChallenge);
    assert.equal(packet.identifier, 2);
    assert.equal(packet.attributes.find((a) => a.type === RadiusAttribute.ReplyMessage)?.value.toString(), 'Challenge 32769430.  Enter response at prompt.');
    assert.equal(packet.attributes.find((a) => a.type === RadiusAttribute.State)?.value.toString(), '32769430');
    assert.deepEqual(encodePacket(packet), RFC_ACCESS_CHALLENGE);
  });
});

void describe('RADIUS codec: User-Password hiding (RFC 2865 §5.2)', () => {
  // The RFC's algorithm written out again, block by block, as an independent check of the chaining.
  function reference(password: Buffer, secret: Buffer, authenticator: Buffer): Buffer {
    const padded = Buffer.concat([password, Buffer.alloc((16 - (password.length % 16)) % 16)]);
    const out: Buffer[] = [];
    let previous = authenticator;
    for (let i = 0; i < padded.length; i += 16) {
      const b = createHash('md5').update(Buffer.concat([secret, previous])).digest();
      const c = Buffer.from(padded.subarray(i, i + 16).map((byte, j) => byte ^ b[j]!));
      out.push(c);
      previous = c;
    }
    return Buffer.concat(out);
  }

  void it('pads to 16-octet blocks and chains every block on the previous ciphertext, up to 128 octets', () => {
    const secret = Buffer.from('a shared secret');
    for (const length of [1, 6, 15, 16, 17, 31, 32, 33, 100, 127, 128]) {
      const password = 'x'.repeat(length - 1) + 'z';
      const authenticator = randomBytes(16);
      const hidden = hidePassword(password, secret, authenticator);
      assert.equal(hidden.length, Math.ceil(length / 16) * 16, `length ${length}`);
      assert.deepEqual(hidden, reference(Buffer.from(password), secret, authenticator));
      assert.equal(revealPassword(hidden, secret, authenticator).toString(), password);
    }
  });

  void it('counts octets, not characters, and refuses empty and over-long passwords', () => {
    const secret = Buffer.from('s');
    const authenticator = randomBytes(16);
    assert.equal(revealPassword(hidePassword('ünïcode', secret, authenticator), secret, authenticator).toString(), 'ünïcode');
    packetError(() => hidePassword('é'.repeat(65), secret, authenticator), 'radius_invalid_request'); // 130 octets
    packetError(() => hidePassword('x'.repeat(129), secret, authenticator), 'radius_invalid_request');
    packetError(() => hidePassword('', secret, authenticator), 'radius_invalid_request');
  });
});

void describe('RADIUS codec: Access-Request', () => {
  const secret = Buffer.from('s3cret-shared');
  const requestAuthenticator = randomBytes(16);

  void it('carries Message-Authenticator first, User-Name, hidden User-Password, NAS-Identifier, and State when answering a challenge', () => {
    const bytes = encodeAccessRequest({ identifier: 42, requestAuthenticator, secret, userName: 'alice', password: '123456', nasIdentifier: 'portico', state: Buffer.from('st') });
    const packet = decodePacket(bytes);
    assert.equal(packet.code, RadiusCode.AccessRequest);
    assert.equal(packet.identifier, 42);
    assert.equal(bytes.readUInt16BE(2), bytes.length);
    assert.deepEqual(packet.authenticator, requestAuthenticator);
    assert.deepEqual(
      packet.attributes.map((a) => a.type),
      [RadiusAttribute.MessageAuthenticator, RadiusAttribute.UserName, RadiusAttribute.UserPassword, RadiusAttribute.NasIdentifier, RadiusAttribute.State],
    );
    const value = (type: number) => packet.attributes.find((a) => a.type === type)?.value ?? Buffer.alloc(0);
    assert.equal(value(RadiusAttribute.UserName).toString(), 'alice');
    assert.equal(revealPassword(value(RadiusAttribute.UserPassword), secret, requestAuthenticator).toString(), '123456');
    assert.equal(value(RadiusAttribute.NasIdentifier).toString(), 'portico');
    assert.equal(value(RadiusAttribute.State).toString(), 'st');
    // RFC 3579 §3.2: HMAC-MD5 keyed with the secret over the packet with the attribute's value zeroed.
    const zeroed = Buffer.from(bytes);
    zeroed.fill(0, 22, 38);
    assert.deepEqual(value(RadiusAttribute.MessageAuthenticator), createHmac('md5', secret).update(zeroed).digest());
  });

  void it('leaves State out when none is given, and refuses bad input with radius_invalid_request', () => {
    const base = { identifier: 1, requestAuthenticator, secret, userName: 'alice', password: '1', nasIdentifier: 'portico' };
    assert.ok(!decodePacket(encodeAccessRequest(base)).attributes.some((a) => a.type === RadiusAttribute.State));
    packetError(() => encodeAccessRequest({ ...base, identifier: 256 }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, requestAuthenticator: Buffer.alloc(15) }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, secret: Buffer.alloc(0) }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, userName: '' }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, userName: 'u'.repeat(254) }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, nasIdentifier: '' }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, state: Buffer.alloc(0) }), 'radius_invalid_request');
    packetError(() => encodeAccessRequest({ ...base, password: 'x'.repeat(129) }), 'radius_invalid_request');
  });
});

void describe('RADIUS codec: replies', () => {
  const secret = Buffer.from('s3cret-shared');
  const requestAuthenticator = randomBytes(16);
  const check = { requestAuthenticator, secret, requireMessageAuthenticator: true };

  void it('reads Accept, Reject with its Reply-Message, and Challenge with Reply-Message and State, Message-Authenticator checked', () => {
    const accept = encodeAccessReply({ code: RadiusCode.AccessAccept, identifier: 7, requestAuthenticator, secret, messageAuthenticator: true });
    assert.deepEqual(decodeAccessReply(accept, check), { code: RadiusCode.AccessAccept, identifier: 7, replyMessage: undefined });
    const reject = encodeAccessReply({ code: RadiusCode.AccessReject, identifier: 7, requestAuthenticator, secret, replyMessage: 'Wrong code', messageAuthenticator: true });
    assert.deepEqual(decodeAccessReply(reject, check), { code: RadiusCode.AccessReject, identifier: 7, replyMessage: 'Wrong code' });
    const challenge = encodeAccessReply({
      code: RadiusCode.AccessChallenge,
      identifier: 7,
      requestAuthenticator,
      secret,
      replyMessage: 'Enter the second code',
      state: Buffer.from([0, 1, 2, 255]),
      messageAuthenticator: true,
    });
    assert.deepEqual(decodeAccessReply(challenge, check), {
      code: RadiusCode.AccessChallenge,
      identifier: 7,
      replyMessage: 'Enter the second code',
      state: Buffer.from([0, 1, 2, 255]),
    });
  });

  void it('joins several Reply-Messages with newlines, in order', () => {
    const attributes = [
      { type: RadiusAttribute.ReplyMessage, value: Buffer.from('line one') },
      { type: RadiusAttribute.ReplyMessage, value: Buffer.from('line two') },
    ];
    const packet = encodePacket({ code: RadiusCode.AccessReject, identifier: 1, authenticator: requestAuthenticator, attributes });
    responseAuthenticator(packet, requestAuthenticator, secret).copy(packet, 4);
    assert.equal(decodeAccessReply(packet, { ...check, requireMessageAuthenticator: false }).replyMessage, 'line one\nline two');
  });

  void it('refuses a reply whose Message-Authenticator was tampered with, doubled or of the wrong size', () => {
    const accept = encodeAccessReply({ code: RadiusCode.AccessAccept, identifier: 7, requestAuthenticator, secret, messageAuthenticator: true });
    // Flip a bit of the HMAC, then fix up the Response Authenticator so only the HMAC is wrong.
    const tampered = Buffer.from(accept);
    tampered[22] = tampered[22]! ^ 1;
    requestAuthenticator.copy(tampered, 4);
    responseAuthenticator(tampered, requestAuthenticator, secret).copy(tampered, 4);
    packetError(() => decodeAccessReply(tampered, check), 'radius_bad_message_authenticator');

    const withAttributes = (attributes: { type: number; value: Buffer }[]) => {
      const packet = encodePacket({ code: RadiusCode.AccessAccept, identifier: 7, authenticator: requestAuthenticator, attributes });
      responseAuthenticator(packet, requestAuthenticator, secret).copy(packet, 4);
      return packet;
    };
    packetError(() => decodeAccessReply(withAttributes([{ type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(15) }]), check), 'radius_bad_message_authenticator');
    const two = [
      { type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(16) },
      { type: RadiusAttribute.MessageAuthenticator, value: Buffer.alloc(16) },
    ];
    packetError(() => decodeAccessReply(withAttributes(two), check), 'radius_bad_message_authenticator');
  });

  void it('checks the Response Authenticator before anything else: a wrong secret is radius_bad_authenticator', () => {
    const accept = encodeAccessReply({ code: RadiusCode.AccessAccept, identifier: 7, requestAuthenticator, secret: Buffer.from('other secret'), messageAuthenticator: true });
    packetError(() => decodeAccessReply(accept, check), 'radius_bad_authenticator');
  });

  void it('refuses codes that do not answer an Access-Request', () => {
    for (const code of [RadiusCode.AccessRequest, 4, 5, 12, 13, 40]) {
      const packet = encodePacket({ code, identifier: 1, authenticator: requestAuthenticator, attributes: [] });
      responseAuthenticator(packet, requestAuthenticator, secret).copy(packet, 4);
      packetError(() => decodeAccessReply(packet, check), 'radius_unexpected_code');
    }
  });
});

void describe('RADIUS codec: strict parsing', () => {
  const valid = RFC_ACCESS_CHALLENGE;

  void it('refuses short datagrams, impossible lengths and truncations, with stable codes', () => {
    packetError(() => decodePacket(Buffer.alloc(19)), 'radius_packet_too_short');
    const header = (length: number, size = 20) => {
      const b = Buffer.alloc(size);
      b.writeUInt8(2, 0);
      b.writeUInt16BE(length, 2);
      return b;
    };
    packetError(() => decodePacket(header(19)), 'radius_length_mismatch');
    packetError(() => decodePacket(header(4097, 4097)), 'radius_packet_too_long');
    packetError(() => decodePacket(header(21)), 'radius_length_mismatch');
    // Every truncation of a valid packet is refused, never misread.
    for (let n = 0; n < valid.length; n++) {
      assert.throws(() => decodePacket(valid.subarray(0, n)), RadiusPacketError, `prefix of ${n}`);
    }
  });

  void it('refuses attributes of length 0 or 1, of type 0, or running past the Length', () => {
    const withBody = (body: number[]) => {
      const b = Buffer.concat([Buffer.alloc(20), Buffer.from(body)]);
      b.writeUInt8(2, 0);
      b.writeUInt16BE(b.length, 2);
      return b;
    };
    packetError(() => decodePacket(withBody([18, 0])), 'radius_attribute_malformed');
    packetError(() => decodePacket(withBody([18, 1])), 'radius_attribute_malformed');
    packetError(() => decodePacket(withBody([18, 5, 65, 66])), 'radius_attribute_malformed');
    packetError(() => decodePacket(withBody([18])), 'radius_attribute_malformed');
    packetError(() => decodePacket(withBody([0, 3, 65])), 'radius_attribute_malformed');
    // An empty attribute (length 2) is well-formed.
    assert.deepEqual(decodePacket(withBody([18, 2])).attributes, [{ type: 18, value: Buffer.alloc(0) }]);
  });

  void it('ignores octets past the Length field (RFC 2865 §3: padding)', () => {
    const padded = Buffer.concat([valid, Buffer.from([1, 2, 3, 4])]);
    assert.deepEqual(decodePacket(padded), decodePacket(valid));
  });

  void it('never throws anything but RadiusPacketError on random and mutated input', () => {
    for (let round = 0; round < 2000; round++) {
      const input = round % 2 === 0 ? randomBytes(Math.floor(Math.random() * 80)) : Buffer.from(valid);
      if (round % 2 === 1) input[Math.floor(Math.random() * input.length)] = Math.floor(Math.random() * 256);
      try {
        decodeAccessReply(input, { requestAuthenticator: randomBytes(16), secret: Buffer.from('s'), requireMessageAuthenticator: false });
      } catch (error) {
        assert.ok(error instanceof RadiusPacketError, String(error));
      }
    }
  });
});
