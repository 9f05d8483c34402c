/**
 * SigV4 verification against AWS's published test-suite vectors and against an independent
 * signer (@smithy/signature-v4, the one inside the AWS SDK for JavaScript v3).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { canonicalQuery, canonicalUri, parseAmzDate, SigV4Error, verifySigV4, type SignedRequest, type VerifyOptions } from './sigv4.ts';

// The AWS SigV4 test suite's credentials, time and scope.
const SUITE_KEY = 'AKIDEXAMPLE';
const SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SUITE_NOW = new Date('2015-08-30T12:36:00Z');

function suiteRequest(method: string, pathAndQuery: string, signature: string): SignedRequest {
  const [path = '/', query = ''] = pathAndQuery.split('?');
  return {
    method,
    path,
    query,
    headers: [
      ['Host', 'example.amazonaws.com'],
      ['X-Amz-Date', '20150830T123600Z'],
      ['Authorization', `AWS4-HMAC-SHA256 Credential=${SUITE_KEY}/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`],
    ],
    body: Buffer.alloc(0),
  };
}

const suiteOptions: VerifyOptions = {
  service: 'service',
  now: SUITE_NOW,
  secretFor: (id) => Promise.resolve(id === SUITE_KEY ? SUITE_SECRET : undefined),
};

/** The AWS SDK's own signer, fed node's SHA-256. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    throw new Error('not needed');
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

const KEY = 'PKIAABCDEFGHIJKLMNOP';
const SECRET = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const NOW = new Date('2026-03-04T05:06:07Z');

async function smithySigned(
  overrides: { body?: string; path?: string; region?: string; service?: string; secret?: string; signingDate?: Date; headers?: Record<string, string> } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: overrides.service ?? 'identitystore',
    region: overrides.region ?? 'eu-west-3',
    credentials: { accessKeyId: KEY, secretAccessKey: overrides.secret ?? SECRET },
    sha256: NodeSha256,
  });
  const body = overrides.body ?? '{"IdentityStoreId":"d-0123456789"}';
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 8080,
      path: overrides.path ?? '/identitystore/',
      query: {},
      headers: {
        host: '127.0.0.1:8080',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AWSIdentityStore.ListUsers',
        'content-length': String(Buffer.byteLength(body)),
        ...overrides.headers,
      },
      body,
    },
    { signingDate: overrides.signingDate ?? NOW },
  );
  return {
    method: signed.method,
    path: signed.path,
    query: '',
    headers: Object.entries(signed.headers),
    body: Buffer.from(body),
  };
}

const options = (overrides: Partial<VerifyOptions> = {}): VerifyOptions => ({
  service: 'identitystore',
  now: NOW,
  secretFor: (id) => Promise.resolve(id === KEY ? SECRET : undefined),
  ...overrides,
});

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof SigV4Error, String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('SigV4 verification', () => {
  describe("AWS's test-suite vectors", () => {
    it('get-vanilla', async () => {
      const verified = await verifySigV4(suiteRequest('GET', '/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'), suiteOptions);
      assert.deepEqual(verified, { accessKeyId: SUITE_KEY, region: 'us-east-1', signedAt: SUITE_NOW });
    });

    it('get-vanilla-query-order-key-case: the query is sorted before signing', async () => {
      await verifySigV4(suiteRequest('GET', '/?Param2=value2&Param1=value1', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'), suiteOptions);
    });

    it('post-vanilla: an empty body hashes as the empty string', async () => {
      await verifySigV4(suiteRequest('POST', '/', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'), suiteOptions);
    });

    it('refuses the vector with one signature character changed', async () => {
      await rejectsWith(
        verifySigV4(suiteRequest('GET', '/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30'), suiteOptions),
        'InvalidSignatureException',
        /does not match the signature you provided/,
      );
    });
  });

  describe('canonical forms', () => {
    it('encodes the path as AWS does for services other than S3', () => {
      assert.equal(canonicalUri('/'), '/');
      assert.equal(canonicalUri(''), '/');
      assert.equal(canonicalUri('/identitystore/'), '/identitystore/');
      assert.equal(canonicalUri('/ሴ'), '/%E1%88%B4'); // get-utf8
      assert.equal(canonicalUri('/example/..'), '/'); // get-relative
      assert.equal(canonicalUri('/./example/./'), '/example/'); // get-slash-dot-slash
      assert.equal(canonicalUri('//example//'), '/example/'); // get-slashes
      assert.equal(canonicalUri('/a%20b'), '/a%2520b'); // an encoded path is encoded again
    });

    it('sorts and strictly encodes the query', () => {
      assert.equal(canonicalQuery(''), '');
      assert.equal(canonicalQuery('Param2=value2&Param1=value1'), 'Param1=value1&Param2=value2');
      assert.equal(canonicalQuery('Param1=value2&Param1=Value1'), 'Param1=Value1&Param1=value2');
      assert.equal(canonicalQuery('a=b c&c=%2A'), 'a=b%20c&c=%2A');
    });

    it('reads only real basic ISO-8601 instants', () => {
      assert.deepEqual(parseAmzDate('20150830T123600Z'), SUITE_NOW);
      for (const bad of ['2015-08-30T12:36:00Z', '20150231T000000Z', '20150830T123600', '20150830T126000Z', '']) assert.equal(parseAmzDate(bad), null, bad);
    });
  });

  describe("against the AWS SDK's signer", () => {
    it('accepts a JSON 1.1 request signed for any region, and records the region', async () => {
      const verified = await verifySigV4(await smithySigned(), options());
      assert.equal(verified.accessKeyId, KEY);
      assert.equal(verified.region, 'eu-west-3');
      assert.deepEqual(verified.signedAt, NOW);
      assert.equal((await verifySigV4(await smithySigned({ region: 'portico' }), options())).region, 'portico');
    });

    it('signs the path under the endpoint prefix, encoded characters included', async () => {
      await verifySigV4(await smithySigned({ path: '/identitystore/' }), options());
      const odd = await smithySigned({ path: '/ids%20store/' });
      await verifySigV4(odd, options());
      await rejectsWith(verifySigV4({ ...odd, path: '/other/' }, options()), 'InvalidSignatureException');
    });

    it('refuses a wrong secret with InvalidSignatureException', async () => {
      await rejectsWith(verifySigV4(await smithySigned({ secret: 'x'.repeat(40) }), options()), 'InvalidSignatureException', /does not match/);
    });

    it('refuses an unknown or revoked key with UnrecognizedClientException', async () => {
      const error = await verifySigV4(await smithySigned(), options({ secretFor: () => Promise.resolve(undefined) })).catch((e: unknown) => e);
      assert.ok(error instanceof SigV4Error);
      assert.equal(error.code, 'UnrecognizedClientException');
      assert.equal(error.message, 'The security token included in the request is invalid.');
      assert.equal(error.accessKeyId, KEY);
    });

    it('refuses a changed body, whether or not the client declared its hash', async () => {
      const signed = await smithySigned();
      const tampered = { ...signed, body: Buffer.from('{"IdentityStoreId":"d-9999999999"}') };
      const declares = signed.headers.some(([name]) => name.toLowerCase() === 'x-amz-content-sha256');
      await rejectsWith(verifySigV4(tampered, options()), 'InvalidSignatureException', declares ? /x-amz-content-sha256/ : /does not match/);
      const undeclared = { ...tampered, headers: signed.headers.filter(([name]) => name.toLowerCase() !== 'x-amz-content-sha256') };
      await rejectsWith(verifySigV4(undeclared, options()), 'InvalidSignatureException');
    });

    it('refuses a changed operation', async () => {
      const signed = await smithySigned();
      const headers = signed.headers.map(([name, value]): [string, string] => [name, name.toLowerCase() === 'x-amz-target' ? 'AWSIdentityStore.DescribeUser' : value]);
      await rejectsWith(verifySigV4({ ...signed, headers }, options()), 'InvalidSignatureException');
    });

    it('allows five minutes of clock skew either way, and no more', async () => {
      const signed = await smithySigned();
      await verifySigV4(signed, options({ now: new Date(NOW.getTime() + 5 * 60_000) }));
      await verifySigV4(signed, options({ now: new Date(NOW.getTime() - 5 * 60_000) }));
      await rejectsWith(verifySigV4(signed, options({ now: new Date(NOW.getTime() + 5 * 60_000 + 1_000) })), 'InvalidSignatureException', /^Signature expired: 20260304T050607Z is now earlier than/);
      await rejectsWith(verifySigV4(signed, options({ now: new Date(NOW.getTime() - 5 * 60_000 - 1_000) })), 'InvalidSignatureException', /^Signature not yet current/);
    });

    it('refuses a credential scoped to another service', async () => {
      await rejectsWith(verifySigV4(await smithySigned({ service: 'sso' }), options()), 'InvalidSignatureException', /correct service: 'identitystore'/);
    });

    it('refuses temporary credentials (a session token)', async () => {
      await rejectsWith(verifySigV4(await smithySigned({ headers: { 'x-amz-security-token': 'token' } }), options()), 'UnrecognizedClientException');
    });
  });

  describe('malformed requests', () => {
    const base = async (): Promise<SignedRequest> => smithySigned();
    const withHeader = (request: SignedRequest, name: string, value: string | null): SignedRequest => ({
      ...request,
      headers: [...request.headers.filter(([key]) => key.toLowerCase() !== name), ...(value === null ? [] : [[name, value] as const])],
    });

    it('answers a request without Authorization with MissingAuthenticationTokenException', async () => {
      await rejectsWith(verifySigV4(withHeader(await base(), 'authorization', null), options()), 'MissingAuthenticationTokenException');
    });

    it('answers an incomplete Authorization header with IncompleteSignatureException', async () => {
      for (const value of ['AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256 Credential=a/b/c/d/e', 'Basic dXNlcjpwYXNz', `AWS4-HMAC-SHA256 Credential=${KEY}/20260304, SignedHeaders=host, Signature=00`]) {
        await rejectsWith(verifySigV4(withHeader(await base(), 'authorization', value), options()), 'IncompleteSignatureException', undefined);
      }
      await rejectsWith(verifySigV4(withHeader(await base(), 'x-amz-date', null), options()), 'IncompleteSignatureException', /X-Amz-Date/);
      await rejectsWith(verifySigV4(withHeader(await base(), 'x-amz-date', '2026-03-04T05:06:07Z'), options()), 'IncompleteSignatureException', /ISO-8601/);
    });

    it('refuses a scope date other than the request date', async () => {
      const request = await base();
      const auth = request.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1] ?? '';
      await rejectsWith(verifySigV4(withHeader(request, 'authorization', auth.replace('/20260304/', '/20260303/')), options()), 'InvalidSignatureException', /Date in Credential scope/);
    });

    it('insists that host, x-amz-date and x-amz-target are signed', async () => {
      const request = await base();
      const auth = request.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1] ?? '';
      for (const name of ['host', 'x-amz-date', 'x-amz-target']) {
        const stripped = auth.replace(/SignedHeaders=([^,]*)/, (_m, list: string) => `SignedHeaders=${list.split(';').filter((h) => h !== name).join(';')}`);
        await rejectsWith(verifySigV4(withHeader(request, 'authorization', stripped), options()), 'InvalidSignatureException', new RegExp(`'${name}' must be a 'SignedHeader'`));
      }
    });
  });
});
