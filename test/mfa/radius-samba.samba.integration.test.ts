/**
 * RADIUS MFA end to end: Portico connected to the Samba AD DC (CORP) with `mfa.radius` pointing
 * at a real FreeRADIUS (test/support/freeradius.ts) and the policy asking every sign-in for a
 * RADIUS code. bob signs in with his AD password through the form (as a browser without
 * JavaScript): the second step asks for the code; a wrong one is refused by FreeRADIUS (no
 * session, audited), the right one lets him in with a session that records the factor.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFreeRadius, type FreeRadius } from '../support/freeradius.ts';
import { fixture } from '../support/samba.ts';
import { startSambaPortico, type SambaPortico } from '../support/samba-portico.ts';
import { get, postForm } from '../support/saml-http.ts';

const bob = fixture.users.find((u) => u.key === 'bob');
const CODE = '271828';

void describe('RADIUS MFA at sign-in: Samba AD user, FreeRADIUS, Portico', () => {
  let radius: FreeRadius | undefined;
  let portico: SambaPortico | undefined;
  let dir = '';

  before(async () => {
    const secret = randomBytes(18).toString('hex');
    assert.ok(bob);
    radius = await startFreeRadius({ secret, users: { [bob.upn]: CODE } });
    dir = await mkdtemp(join(tmpdir(), 'portico-radius-samba-'));
    const secretFile = join(dir, 'secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    portico = await startSambaPortico({
      PORTICO_MFA__RADIUS__SERVERS: JSON.stringify([{ host: '127.0.0.1', port: radius.ports[0] }]),
      PORTICO_MFA__RADIUS__SECRET_FILE: secretFile,
      PORTICO_MFA__RADIUS__TIMEOUT_MS: '2000',
    });
    const policy = await fetch(`${portico.app.url}/admin/api/mfa/policy`, { method: 'PUT', headers: { authorization: `Bearer ${portico.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'always', withoutDevice: 'block', factors: ['radius'] }) });
    assert.equal(policy.status, 200, await policy.text());
  });
  after(async () => {
    await portico?.stop();
    await radius?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  void it('asks for the code after the AD password; refuses a wrong one, accepts the right one', async () => {
    assert.ok(portico && bob);
    const base = portico.app.url;
    const page = await get(`${base}/sign-in?returnTo=%2Fportal`);
    const csrfCookie = page.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_csrf=')) ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const signedIn = await postForm(`${base}/sign-in`, { csrf, returnTo: '/portal', username: bob.upn, password: bob.password }, csrfCookie);
    assert.equal(signedIn.status, 303, signedIn.text.slice(0, 300));
    assert.match(signedIn.location ?? '', /^\/mfa\?/);
    const pending = signedIn.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_session=')) ?? '';
    // The half-made session opens nothing yet.
    assert.equal((await get(`${base}/api/session`, pending)).status, 401);

    const second = await get(`${base}${signedIn.location ?? ''}`, pending);
    assert.equal(second.status, 200);
    assert.match(second.text, /id="radius-code"/);
    const mfaCsrf = /name="csrf" value="([^"]+)"/.exec(second.text)?.[1] ?? '';

    const wrong = await postForm(`${base}/mfa`, { csrf: mfaCsrf, returnTo: '/portal', kind: 'radius', code: '000000' }, pending);
    assert.equal(wrong.status, 401, wrong.text.slice(0, 300));
    assert.match(wrong.text, /That code is not valid/);
    assert.equal((await get(`${base}/api/session`, pending)).status, 401, 'no session after a refused code');

    const right = await postForm(`${base}/mfa`, { csrf: mfaCsrf, returnTo: '/portal', kind: 'radius', code: CODE }, pending);
    assert.equal(right.status, 303, right.text.slice(0, 300));
    assert.equal(right.location, '/portal');
    const session = right.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('portico_session=')) ?? '';
    const me = await get(`${base}/api/session`, session);
    assert.equal(me.status, 200, me.text);
    assert.match(me.text, new RegExp(bob.upn.replace(/\./g, '\\.'), 'i'));
    assert.match(radius?.output() ?? "", /Sent Access-Reject/);
    assert.match(radius?.output() ?? "", /Sent Access-Accept/);

    const audit = await fetch(`${base}/admin/api/audit?action=mfa.device.verified`, { headers: { authorization: `Bearer ${portico.token}` } });
    const events = ((await audit.json()) as { events: Array<{ outcome: string; details: { kind?: string } }> }).events.filter((e) => e.details.kind === 'radius');
    assert.deepEqual(events.map((e) => e.outcome).sort(), ['failure', 'success']);
  });
});
