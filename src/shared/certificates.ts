/**
 * Self-signed certificates generated at first start (the managed directory's LDAPS listener;
 * later the SAML signing key), so that Portico starts with nothing but npm — no openssl needed.
 * The certificate is assembled in DER here (a handful of ASN.1 structures) and signed with
 * node:crypto; Node's own X509Certificate parses the result back as a check.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import net from 'node:net';

export interface GeneratedCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER, lower-case hex without colons (for pinning). */
  sha256: string;
}

export interface CertificateRequest {
  commonName: string;
  /** DNS names and IPv4 addresses the certificate is valid for. */
  altNames: string[];
  validDays: number;
}

// Minimal DER: tag, definite length, content.
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : (() => {
          const bytes = Buffer.from(body.length.toString(16).padStart(body.length > 0xffff ? 6 : body.length > 0xff ? 4 : 2, '0'), 'hex');
          return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
        })();
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const sequence = (...items: Buffer[]): Buffer => der(0x30, ...items);
const set = (...items: Buffer[]): Buffer => der(0x31, ...items);
const octets = (value: Buffer): Buffer => der(0x04, value);
const bitString = (value: Buffer): Buffer => der(0x03, Buffer.from([0]), value);
const utf8 = (value: string): Buffer => der(0x0c, Buffer.from(value, 'utf8'));
const boolTrue = der(0x01, Buffer.from([0xff]));

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolTrue] : []), octets(value));
}

function subjectAltNames(names: string[]): Buffer {
  return sequence(
    ...names.map((name) => {
      if (net.isIPv4(name)) return der(0x87, Buffer.from(name.split('.').map(Number)));
      if (net.isIPv6(name)) throw new RangeError('IPv6 subject alternative names are not supported');
      return der(0x82, Buffer.from(name, 'ascii'));
    }),
  );
}

/**
 * A serial number from random bytes: a positive INTEGER in minimal DER — the top bit clear, and
 * the first byte never zero (a zero there is padding, which OpenSSL refuses: one random serial
 * in 128 had it).
 */
export function certificateSerial(random: Buffer): Buffer {
  const serial = Buffer.from(random);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial;
}

export function generateSelfSignedCertificate(request: CertificateRequest): GeneratedCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(request.commonName))));
  const sha256WithRsa = sequence(oid('1.2.840.113549.1.1.11'), der(0x05));
  const serial = certificateSerial(randomBytes(16));
  const notBefore = new Date(Date.now() - 5 * 60_000); // tolerate small clock skew
  const notAfter = new Date(notBefore.getTime() + request.validDays * 86_400_000);
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    sha256WithRsa,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(
      0xa3,
      sequence(
        extension('2.5.29.19', true, sequence()), // basicConstraints: not a CA
        extension('2.5.29.15', true, bitString(Buffer.from([0xa0]))), // digitalSignature, keyEncipherment
        extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
        extension('2.5.29.17', false, subjectAltNames(request.altNames)),
      ),
    ),
  );
  const certificate = sequence(tbs, sha256WithRsa, bitString(sign('sha256', tbs, privateKey)));
  const certPem = `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const parsed = new X509Certificate(certPem);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  if (!parsed.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('generated certificate does not match its key');
  return { certPem, keyPem, sha256: parsed.fingerprint256.replace(/:/g, '').toLowerCase() };
}

/**
 * The one way a certificate fingerprint is shown to people (CLI, console, /status): SHA-256 as
 * uppercase hex pairs separated by colons, as `openssl x509 -fingerprint -sha256` and Node's
 * fingerprint256 print it. Pins in the configuration accept it as shown (colons and case optional).
 */
export function displayFingerprint(hex: string): string {
  const digits = hex.replace(/:/g, '').toUpperCase();
  return digits.match(/.{2}/g)?.join(':') ?? digits;
}
