/**
 * Sign-in with AD credentials and JIT provisioning, end to end through Portico's HTTP API, run
 * unchanged against the Samba DC (a connected domain) and against Portico's managed directory.
 * Users are created for each test by the directory's Administrator over LDAPS, as an AD admin
 * would; Portico only reads.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DescribeUserCommand, GetUserIdCommand, IdentitystoreClient, ResourceNotFoundException } from '@aws-sdk/client-identitystore';
import type { PorticoApp } from '#src/app.ts';
import { runPortico } from '../support/cli.ts';
import { directoryAdmin, type DirectoryAdmin, type DirectoryAdminTarget, type TestUser } from '../support/directory-admin.ts';

export interface SignInTarget {
  app: PorticoApp;
  admin: DirectoryAdminTarget;
  /** Environment under which `portico …` commands address the same instance. */
  cliEnv: Record<string, string>;
  /** What a person whose password expired is told to do. */
  passwordChange: RegExp;
  stop(): Promise<void>;
}

export interface SignInSuiteOptions {
  name: string;
  /** Starts Portico on the directory with a clock the tests can move. */
  start: (clock: () => Date) => Promise<SignInTarget>;
}

interface Response<T = Record<string, unknown>> {
  status: number;
  body: T;
  cookie: string | null;
  headers: Headers;
}

type ErrorBody = { error: { code: string; message: string; retryAfterSeconds?: number } };

export function signInSuite({ name, start }: SignInSuiteOptions): void {
  describe(`sign-in and JIT provisioning: ${name}`, () => {
    let target: SignInTarget;
    let admin: DirectoryAdmin;
    let offsetMs = 0;
    const clock = () => new Date(Date.now() + offsetMs);
    const run = `t${randomBytes(3).toString('hex')}`;
    let serial = 0;
    const sam = (label: string) => `${run}${label}${serial++}`.slice(0, 20);

    before(async () => {
      target = await start(clock);
      admin = await directoryAdmin(target.admin);
    });
    after(async () => {
      await admin?.close();
      await target?.stop();
    });

    async function post<T = Record<string, unknown>>(path: string, body: unknown, cookie?: string): Promise<Response<T>> {
      const response = await fetch(`${target.app.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
      const setCookie = response.headers.get('set-cookie');
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : {}) as T, cookie: setCookie ? (setCookie.split(';')[0] ?? null) : null, headers: response.headers };
    }

    const signIn = (username: string, password: string) => post('/api/sign-in', { username, password });
    const session = async (cookie: string) => {
      const response = await fetch(`${target.app.url}/api/session`, { headers: { cookie } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const cli = (args: string[], stdin = '') => runPortico(args, target.cliEnv, stdin);

    const person = (label: string, extra: Record<string, string> = {}) => {
      const id = sam(label);
      return admin.createUser(id, { givenName: 'Grace', sn: `Hopper${label}`, initials: 'B', displayName: `Grace Hopper ${label}`, mail: `${id}@mail.example.test`, department: 'Research', ...extra });
    };

    it('provisions the user at first sign-in with exactly the mapped values, and opens a session', async () => {
      const user = await person('first');
      const result = await signIn(user.upn, user.password);
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.ok(result.cookie, 'a session cookie is set');
      const stored = await target.app.users.findByUserName(user.upn);
      assert.ok(stored);
      assert.equal(result.body.userId, stored.userId);
      // The default table: Identity Center's values, and the formatted name it computed.
      assert.deepEqual(stored.attributes, {
        AD_GUID: stored.activeDirectory.guid,
        email: user.upn,
        familyName: 'Hopperfirst',
        givenName: 'Grace',
        middleName: 'B',
        name: 'Grace Hopper first',
        preferredUsername: 'Grace Hopper first',
        subject: user.upn,
        formattedName: 'Grace Hopperfirst',
      });
      assert.equal(stored.userName, user.upn);
      assert.equal(stored.displayName, 'Grace Hopper first');
      assert.deepEqual(stored.name, { formatted: 'Grace Hopperfirst', givenName: 'Grace', familyName: 'Hopperfirst', middleName: 'B' });
      assert.deepEqual(stored.emails, [{ value: user.upn, type: 'work', primary: true }]);
      assert.deepEqual(stored.externalIds, [{ issuer: `ad:${target.admin.domain}`, id: stored.activeDirectory.guid }]);
      assert.match(stored.activeDirectory.sid, /^S-1-5-21-/);
      assert.equal(stored.activeDirectory.domain, target.admin.domain);

      const me = await session(result.cookie);
      assert.equal(me.status, 200);
      assert.equal(me.body.userName, user.upn);
      const groups = (me.body.groups as Array<{ qualifiedName: string }>).map((g) => g.qualifiedName);
      assert.ok(groups.includes(`Domain Users@${target.admin.domain}`), `groups: ${groups.join(', ')}`);
    });

    it('accepts the UPN, DOMAIN\\name and the bare sAMAccountName for the same record', async () => {
      const user = await person('forms');
      const ids = new Set<unknown>();
      for (const username of [user.upn, `${target.admin.netbiosName}\\${user.sam}`, user.sam, user.upn.toUpperCase()]) {
        const result = await signIn(username, user.password);
        assert.equal(result.status, 200, `${username}: ${JSON.stringify(result.body)}`);
        ids.add(result.body.userId);
      }
      assert.equal(ids.size, 1);
    });

    it('refreshes every mapped attribute at the next sign-in, keeping the UserId', async () => {
      const user = await person('change');
      const first = await signIn(user.upn, user.password);
      await admin.replace(user.dn, 'displayName', 'Rear Admiral Hopper');
      await admin.replace(user.dn, 'givenName', 'Amazing');
      const second = await signIn(user.upn, user.password);
      assert.equal(second.status, 200);
      assert.equal(second.body.userId, first.body.userId);
      const stored = await target.app.users.findByUserName(user.upn);
      assert.equal(stored?.displayName, 'Rear Admiral Hopper');
      assert.equal(stored?.name.givenName, 'Amazing');
      assert.equal(stored?.nickName, 'Rear Admiral Hopper');
    });

    it('gives each account state its own actionable message', async () => {
      const disabled = await person('disabled');
      await admin.replace(disabled.dn, 'userAccountControl', '514');
      const expired = await person('expired');
      await admin.expire(expired.dn);
      const mustChange = await person('mustchg');
      await admin.replace(mustChange.dn, 'pwdLastSet', '0');
      const locked = await person('locked');
      await admin.failBinds(locked.upn, 6);

      const cases: Array<[TestUser, string, RegExp]> = [
        [disabled, 'auth.account_disabled', /disabled\. Contact your administrator/],
        [expired, 'auth.account_expired', /expired\. Contact your administrator/],
        [mustChange, 'auth.password_must_change', target.passwordChange],
        [locked, 'auth.account_locked', /locked.*Try again later/],
      ];
      for (const [user, code, message] of cases) {
        const result = await signIn(user.upn, user.password);
        const body = result.body as unknown as ErrorBody;
        assert.equal(result.status, 401, `${user.sam}: ${JSON.stringify(body)}`);
        assert.equal(body.error.code, code, user.sam);
        assert.match(body.error.message, message);
        assert.equal(await target.app.users.findByUserName(user.upn), undefined, `${user.sam} is not provisioned`);
      }
    });

    it('answers an unknown user exactly as a wrong password, in comparable time; an injection-shaped name is just a wrong name', async () => {
      const user = await person('timing');
      const timed = async (username: string, password: string) => {
        const started = performance.now();
        const result = await signIn(username, password);
        return { ms: performance.now() - started, body: result.body as unknown as ErrorBody, status: result.status };
      };
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        const a = await timed(user.upn, `wrong-${i}`);
        const b = await timed(`nobody-${run}-${i}@${target.admin.domain}`, `wrong-${i}`);
        assert.deepEqual([a.status, a.body], [b.status, b.body]);
        assert.equal(a.body.error.code, 'auth.invalid_credentials');
        wrong.push(a.ms);
        unknown.push(b.ms);
      }
      const median = (values: number[]) => values.sort((x, y) => x - y)[1] ?? 0;
      // Both go to the directory for a bind; neither answers from a shortcut.
      assert.ok(median(unknown) > median(wrong) / 4 && median(unknown) < median(wrong) * 4 + 50, `wrong ${wrong.join(',')} ms, unknown ${unknown.join(',')} ms`);

      for (const username of ['*', '*)(objectClass=*', `${user.sam}*`, `${user.sam})(|(sAMAccountName=*`, 'CORP\\*', `\u0000${user.sam}`]) {
        const result = await signIn(username, user.password);
        assert.equal(result.status, 401, username);
        assert.equal((result.body as unknown as ErrorBody).error.code, 'auth.invalid_credentials', username);
      }
    });

    it('throttles a username below the lockout threshold: the directory never locks the account', async () => {
      const user = await person('throttle');
      const codes: string[] = [];
      for (let i = 0; i < 6; i++) {
        const result = await signIn(user.upn, `not-it-${i}`);
        codes.push((result.body as unknown as ErrorBody).error.code);
        if (result.status === 429) {
          assert.ok(Number(result.headers.get('retry-after')) > 0);
          assert.match((result.body as unknown as ErrorBody).error.message, /Try again in/);
        }
      }
      assert.deepEqual(codes, ['auth.invalid_credentials', 'auth.invalid_credentials', 'auth.invalid_credentials', 'auth.invalid_credentials', 'auth.throttled', 'auth.throttled']);
      assert.equal(Number((await admin.read(user.dn, 'lockoutTime')) ?? '0'), 0, 'the account is not locked in the directory');
      // Even the right password waits: the attempt never reaches the directory.
      assert.equal((await signIn(user.upn, user.password)).status, 429);
    });

    it('signs in a user without initials with the default table; the identity-center preset refuses them, naming the attribute', async () => {
      const user = await admin.createUser(sam('noinit'), { givenName: 'No', sn: 'Initials', displayName: 'No Initials' });
      const accepted = await signIn(user.upn, user.password);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      const stored = await target.app.users.findByUserName(user.upn);
      assert.equal(stored?.name.middleName, null);
      assert.equal(stored?.attributes.middleName, undefined, 'an empty optional attribute is left out');

      const set = await cli(['mappings', 'set', '--preset', 'identity-center']);
      assert.equal(set.status, 0, set.stderr);
      try {
        const refused = await signIn(user.upn, user.password);
        assert.equal(refused.status, 403);
        assert.equal((refused.body as unknown as ErrorBody).error.code, 'identity.mapping_value_missing');
        const events = await target.app.audit.list({ limit: 20, action: 'auth.sign_in' });
        const event = events.find((e) => e.target === user.upn && e.errorCode === 'identity.mapping_value_missing');
        assert.ok(event, 'the failure is audited');
        assert.match(JSON.stringify(event.details), /initials/);
        assert.match(JSON.stringify(event.details), /middleName/);
      } finally {
        assert.equal((await cli(['mappings', 'set', '--reset'])).status, 0);
      }
      assert.equal((await signIn(user.upn, user.password)).status, 200, 'the default table applies again');
    });

    it('signs in an account with no names at all: the required names fall back to the account name', async () => {
      const user = await admin.createUser(sam('bare'), {});
      const accepted = await signIn(user.upn, user.password);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      const stored = await target.app.users.findByUserName(user.upn);
      assert.ok(stored);
      assert.equal(stored.displayName, user.sam);
      assert.deepEqual(stored.name, { formatted: user.sam, givenName: user.sam, familyName: user.sam, middleName: null });
    });

    it('keeps emails unique: a duplicate fails that sign-in, is audited, and leaves the previous record intact', async () => {
      const set = await cli(['mappings', 'set', 'email=${mail}']);
      assert.equal(set.status, 0, set.stderr);
      try {
        const first = await person('mail1', { mail: `shared-${run}@mail.example.test` });
        const second = await person('mail2', { mail: `own-${run}@mail.example.test` });
        assert.equal((await signIn(first.upn, first.password)).status, 200);
        assert.equal((await signIn(second.upn, second.password)).status, 200);
        const before = await target.app.users.findByUserName(second.upn);

        await admin.replace(second.dn, 'mail', `SHARED-${run}@mail.example.test`);
        await admin.replace(second.dn, 'displayName', 'Changed Too');
        const refused = await signIn(second.upn, second.password);
        assert.equal(refused.status, 403);
        assert.equal((refused.body as unknown as ErrorBody).error.code, 'identity.email_conflict');
        assert.deepEqual(await target.app.users.findByUserName(second.upn), before, 'nothing of the failed provisioning was written');
        const events = await target.app.audit.list({ limit: 20, action: 'auth.sign_in' });
        assert.ok(events.some((e) => e.target === second.upn && e.errorCode === 'identity.email_conflict'));
      } finally {
        assert.equal((await cli(['mappings', 'set', '--reset'])).status, 0);
      }
    });

    it('ends the sessions of a user deleted from AD at the next re-check; the record stays and sign-in is refused', async () => {
      const user = await person('deleted');
      const signedIn = await signIn(user.upn, user.password);
      assert.ok(signedIn.cookie);
      const record = await target.app.users.findByUserName(user.upn);
      await admin.delete(user.dn);
      // Within the re-check interval the session is trusted as it is.
      assert.equal((await session(signedIn.cookie)).status, 200);
      offsetMs += 6 * 60_000;
      assert.equal((await session(signedIn.cookie)).status, 401);
      const refused = await signIn(user.upn, user.password);
      assert.equal((refused.body as unknown as ErrorBody).error.code, 'auth.invalid_credentials');
      assert.deepEqual(await target.app.users.findByUserName(user.upn), record, 'the JIT record remains until an administrator removes it');
    });

    it('removal never touches AD; the user comes back at the next sign-in with a new UserId and the same objectGUID', async () => {
      const user = await person('removed');
      const first = await signIn(user.upn, user.password);
      assert.ok(first.cookie);
      const removed = await cli(['users', 'remove', user.upn, '--json']);
      assert.equal(removed.status, 0, removed.stderr);
      assert.equal(await target.app.users.findByUserName(user.upn), undefined);
      assert.equal((await session(first.cookie)).status, 401, 'removal ends the sessions');
      assert.equal(await admin.read(user.dn, 'sAMAccountName'), user.sam, 'the AD account is untouched');

      const again = await signIn(user.upn, user.password);
      assert.equal(again.status, 200);
      assert.notEqual(again.body.userId, first.body.userId);
      const stored = await target.app.users.findByUserName(user.upn);
      assert.equal(stored?.userId, again.body.userId);
      const events = await target.app.audit.list({ limit: 50, action: 'identity.user.reprovisioned' });
      const event = events.find((e) => e.target === again.body.userId);
      assert.ok(event);
      assert.equal(event.details.previousUserId, first.body.userId);
      assert.equal(event.details.guid, stored?.activeDirectory.guid);
    });

    it('serves provisioned users to applications through the IdentityStore API, and hides removed ones', async () => {
      const issued = await cli(['app-credentials', 'create', `suite-${run}`, '--json']);
      assert.equal(issued.status, 0, issued.stderr);
      const key = JSON.parse(issued.stdout) as { accessKeyId: string; secretAccessKey: string; identityStoreId: string };
      const client = new IdentitystoreClient({
        endpoint: `${target.app.url}/identitystore`,
        region: 'eu-west-1',
        credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      });
      try {
        const user = await person('api');
        const signedIn = await signIn(user.upn, user.password);
        const userId = signedIn.body.userId as string;
        const described = await client.send(new DescribeUserCommand({ IdentityStoreId: key.identityStoreId, UserId: userId }));
        assert.equal(described.UserName, user.upn);
        assert.equal(described.DisplayName, 'Grace Hopper api');
        const stored = await target.app.users.get(userId);
        assert.deepEqual(described.ExternalIds, [{ Issuer: `ad:${target.admin.domain}`, Id: stored?.activeDirectory.guid }]);
        const byName = await client.send(new GetUserIdCommand({ IdentityStoreId: key.identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: user.upn } } }));
        assert.equal(byName.UserId, userId);

        assert.equal((await cli(['users', 'remove', userId])).status, 0);
        await assert.rejects(client.send(new DescribeUserCommand({ IdentityStoreId: key.identityStoreId, UserId: userId })), (error) => error instanceof ResourceNotFoundException && error.ResourceType === 'USER');
        await assert.rejects(client.send(new GetUserIdCommand({ IdentityStoreId: key.identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: user.upn } } })), ResourceNotFoundException);
      } finally {
        client.destroy();
      }
    });

    it('signs in through the plain page with its CSRF token, and out again', async () => {
      const user = await person('page');
      const page = await fetch(`${target.app.url}/sign-in`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const csrfCookie = page.headers.get('set-cookie')?.split(';')[0] ?? '';
      const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(token, 'the form carries a CSRF token');
      const form = new URLSearchParams({ username: user.upn, password: user.password, csrf: token });
      const posted = await fetch(`${target.app.url}/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie }, body: form });
      assert.equal(posted.status, 303);
      const cookie = posted.headers.getSetCookie().find((c) => c.startsWith('portico_session='));
      assert.ok(cookie);
      assert.match(cookie, /HttpOnly/i);
      assert.match(cookie, /SameSite=Lax/i);
      const sessionCookie = cookie.split(';')[0] ?? '';
      assert.equal((await session(sessionCookie)).status, 200);
      const out = await post('/api/sign-out', {}, sessionCookie);
      assert.ok(out.status < 300);
      assert.equal((await session(sessionCookie)).status, 401);
    });
  });
}
