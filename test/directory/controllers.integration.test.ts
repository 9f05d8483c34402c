/**
 * Transport and availability against the real Samba DC: TLS verification and pinning, StartTLS,
 * the plain-LDAP opt-in, failover on refusal and on timeout, fail-back, and no leaked connections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { createAdConnector } from '#src/directory/connector.ts';
import { createDomainControllerPool } from '#src/directory/pool.ts';
import { isAppError } from '#src/shared/errors.ts';
import { fixtureUser, sambaOptions, sambaRuntime } from '../support/samba.ts';
import { startBlackHole, startTcpProxy } from '../support/tcp-proxy.ts';
import { directoryAdmin } from '../support/directory-admin.ts';

const dc = sambaRuntime();
const alice = fixtureUser('alice');
const ldapsPort = Number(new URL(dc.ldapsUrl).port || 636);

async function withConnector<T>(options: ReturnType<typeof sambaOptions>, work: (c: ReturnType<typeof createAdConnector>) => Promise<T>): Promise<T> {
  const connector = createAdConnector(options);
  try {
    return await work(connector);
  } finally {
    await connector.close();
  }
}

describe('TLS', () => {
  it('verifies the DC certificate against a custom CA bundle', async () => {
    await withConnector(sambaOptions(), async (c) => {
      assert.equal((await c.authenticate(alice.upn, alice.password)).outcome, 'ok');
    });
  });

  it('refuses the DC certificate when no configured CA vouches for it', async () => {
    await withConnector(sambaOptions({ tls: {} }), async (c) => {
      await assert.rejects(c.discover(), (error) => isAppError(error, 'directory.tls_failed'));
    });
  });

  it('accepts a pinned certificate without a CA, and refuses a wrong pin', async () => {
    await withConnector(sambaOptions({ tls: { verify: false, pinnedSha256: [dc.certSha256] } }), async (c) => {
      assert.equal((await c.discover()).netbiosName, 'CORP');
    });
    await withConnector(sambaOptions({ tls: { verify: false, pinnedSha256: ['00'.repeat(32)] } }), async (c) => {
      await assert.rejects(c.discover(), (error) => isAppError(error, 'directory.tls_failed') && /not pinned/.test(error.message));
    });
  });

  it('upgrades ldap:// with StartTLS', async () => {
    await withConnector(sambaOptions({ urls: [dc.ldapUrl] }), async (c) => {
      assert.equal((await c.authenticate(alice.upn, alice.password)).outcome, 'ok');
    });
  });

  it('refuses ldap:// without StartTLS unless plain LDAP is opted into, and AD refuses plain simple binds', async () => {
    assert.throws(() => sambaOptions({ urls: [dc.ldapUrl], tls: { startTls: false, caFile: dc.caFile } }), /allowPlainLdap/);
    const warnings: string[] = [];
    const connector = createAdConnector(sambaOptions({ urls: [dc.ldapUrl], tls: { startTls: false }, allowPlainLdap: true }), {
      warn: (m) => warnings.push(m),
    });
    try {
      assert.match(warnings.join('\n'), /WARNING: plain LDAP is enabled/);
      await assert.rejects(connector.discover(), (error) => isAppError(error, 'directory.insecure_transport'));
    } finally {
      await connector.close();
    }
  });
});

describe('several domain controllers', () => {
  it('fails over when the first controller refuses connections, and reports the time it costs', async () => {
    const refused = 'ldaps://127.0.0.1:9'; // discard port: nothing listens there
    await withConnector(sambaOptions({ urls: [refused, dc.ldapsUrl] }), async (c) => {
      const started = performance.now();
      const result = await c.authenticate(alice.upn, alice.password);
      const firstMs = performance.now() - started;
      assert.equal(result.outcome, 'ok');
      assert.equal(result.outcome === 'ok' && result.controller, dc.ldapsUrl);
      const status = c.status();
      assert.equal(status[0]?.up, false);
      assert.equal(status[1]?.up, true);
      const again = performance.now();
      assert.equal((await c.authenticate(alice.upn, alice.password)).outcome, 'ok');
      const secondMs = performance.now() - again;
      console.log(`failover: first sign-in with a refusing DC first ${firstMs.toFixed(0)} ms (discovery included), next ${secondMs.toFixed(0)} ms`);
    });
  });

  it('fails over when the first controller hangs, after the connect timeout', async () => {
    const hole = await startBlackHole();
    try {
      await withConnector(sambaOptions({ urls: [hole.url, dc.ldapsUrl], timeouts: { connectMs: 300, operationMs: 5000 } }), async (c) => {
        const started = performance.now();
        assert.equal((await c.authenticate(alice.upn, alice.password)).outcome, 'ok');
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 300, `${elapsed} ms`);
        console.log(`failover: hung DC cost ${elapsed.toFixed(0)} ms with connectMs=300`);
      });
    } finally {
      await hole.stop();
    }
  });

  it('fails back to the preferred controller once it answers again', async () => {
    const preferred = await startTcpProxy({ host: '127.0.0.1', port: ldapsPort });
    try {
      await withConnector(sambaOptions({ urls: [preferred.url, dc.ldapsUrl], healthCheckIntervalMs: 100 }), async (c) => {
        const first = await c.authenticate(alice.upn, alice.password);
        assert.equal(first.outcome === 'ok' && first.controller, preferred.url);

        await preferred.stop();
        // The controller's close reaches the pooled connections before the next sign-in, as it
        // does when a DC goes away (a bind written into a dying socket is not replayed: below).
        await new Promise((r) => setTimeout(r, 50));
        const during = await c.authenticate(alice.upn, alice.password);
        assert.equal(during.outcome === 'ok' && during.controller, dc.ldapsUrl);
        assert.equal(c.status()[0]?.up, false);

        await preferred.start();
        const deadline = Date.now() + 5000;
        while (!c.status()[0]?.up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(c.status()[0]?.up, true, 'health probe saw the preferred DC again');
        const back = await c.authenticate(alice.upn, alice.password);
        assert.equal(back.outcome === 'ok' && back.controller, preferred.url);
      });
    } finally {
      await preferred.stop();
    }
  });

  it('keeps connections bounded and leaks none under errors', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: ldapsPort });
    try {
      const options = sambaOptions({ urls: [proxy.url], pool: { size: 2 } });
      const connector = createAdConnector(options);
      const attempts = Array.from({ length: 24 }, (_, i) =>
        i % 3 === 0
          ? connector.authenticate(alice.upn, alice.password)
          : i % 3 === 1
            ? connector.authenticate('nobody@corp.example.test', 'Wrong-1!')
            : connector.findUser(`missing-${i}`),
      );
      await Promise.all(attempts);
      // Two lanes (service, bind) of at most two connections each.
      assert.ok(proxy.openConnections() <= 4, `${proxy.openConnections()} connections open`);
      await connector.close();
      const deadline = Date.now() + 2000;
      while (proxy.openConnections() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(proxy.openConnections(), 0);
    } finally {
      await proxy.stop();
    }
  });

  it('reports an unreachable domain with a clear error when no controller answers', async () => {
    await withConnector(sambaOptions({ urls: ['ldaps://127.0.0.1:9', 'ldaps://127.0.0.1:7'] }), async (c) => {
      await assert.rejects(c.authenticate(alice.upn, alice.password), (error) => isAppError(error, 'directory.unreachable') && /no domain controller answered/.test(error.message));
    });
  });
});

describe('a pooled connection dying mid-request', () => {
  // A throwaway user, so that its bad-password count is this test's alone.
  it('never sends a user bind twice, so a wrong password counts once against the lockout', async () => {
    const admin = await directoryAdmin({ ldapsUrl: dc.ldapsUrl, ca: readFileSync(dc.caFile), baseDn: dc.baseDn, domain: dc.domain, netbiosName: dc.netbiosName, admin: dc.admin });
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: ldapsPort });
    const pool = createDomainControllerPool(sambaOptions({ urls: [proxy.url], pool: { size: 1 } }));
    try {
      const user = await admin.createUser(`pool-replay-${process.pid}`);
      const wrongBind = () => pool.withBind(({ client }) => client.bind(user.dn, 'Not-The-Password-1!'));
      const badPwdCount = async () => Number((await admin.read(user.dn, 'badPwdCount')) ?? 0);

      await assert.rejects(wrongBind(), /InvalidCredentials|49|80090308/i);
      assert.equal(await badPwdCount(), 1);

      // The next bind goes out on the pooled connection; the DC answers, the answer is lost.
      proxy.cutNextReply();
      await assert.rejects(wrongBind(), (error) => isAppError(error, 'directory.unreachable') && /not sent again/.test(error.message));
      assert.equal(await badPwdCount(), 2, 'the bind reached the DC once and was not replayed');
      assert.equal(pool.status()[0]?.up, true, 'one dead socket does not mark the controller down');

      // Service reads on a pooled connection are still retried transparently.
      const read = () => pool.withService(({ client }) => client.search(dc.baseDn, { scope: 'base', attributes: ['objectGUID'] }));
      await read();
      proxy.cutNextReply();
      assert.equal((await read()).searchEntries.length, 1);
    } finally {
      await pool.close();
      await proxy.stop();
      await admin.close();
    }
  });
});
