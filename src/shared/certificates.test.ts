import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { certificateSerial, generateSelfSignedCertificate } from './certificates.ts';

describe('self-signed certificates', () => {
  it('serial numbers are positive and minimal whatever the random bytes (no leading zero byte)', () => {
    for (const first of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const serial = certificateSerial(Buffer.from([first, 0x00, 0x12]));
      assert.ok((serial[0] ?? 0) > 0 && (serial[0] ?? 0) < 0x80, `from 0x${first.toString(16)}: 0x${serial.toString('hex')}`);
    }
  });

  it('are valid for the requested names and IPs, with a matching private key', () => {
    const generated = generateSelfSignedCertificate({ commonName: 'portico.example.test', altNames: ['portico.example.test', 'localhost', '127.0.0.1'], validDays: 30 });
    const cert = new X509Certificate(generated.certPem);
    assert.equal(cert.checkHost('portico.example.test'), 'portico.example.test');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkHost('other.example.test'), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(generated.keyPem)));
    assert.equal(generated.sha256, cert.fingerprint256.replace(/:/g, '').toLowerCase());
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 29 * 86_400_000);
  });

  it('serve TLS that a client verifies with the certificate as its CA', async () => {
    const generated = generateSelfSignedCertificate({ commonName: 'localhost', altNames: ['localhost', '127.0.0.1'], validDays: 1 });
    const server = tls.createServer({ cert: generated.certPem, key: generated.keyPem }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client = tls.connect({ host: '127.0.0.1', port, ca: generated.certPem });
    const [data] = (await once(client, 'data')) as [Buffer];
    assert.equal(data.toString(), 'hello');
    assert.equal(client.authorized, true);
    client.destroy();
    server.close();
  });
});
