/**
 * Accounts and lockout: which user a bind name designates, the password check a bind and a
 * password change share (lockout accounting, the verified-password cache, the hash upgrade), and
 * the account states (locked out, password expired) the views compute. The timing rules live
 * here: an unknown name pays a dummy hash, a locked account always pays the real one, and the
 * built-in Administrator is never locked out unless configured otherwise.
 */
import { filetimeToDate } from '#src/directory/ad-codec.ts';
import { currentPolicy, entryByDn, type EngineContext } from './context.ts';
import { hashAlgorithm } from './password.ts';
import type { DirectoryPolicy } from './policy.ts';
import { uacFlags, wellKnownRids } from './schema.ts';
import { indexKey, type AttributeMap, type DirectoryReads, type StoredEntry } from './store.ts';
import { bigint, controlCharacters, filetime, generalizedTime, int, isUser } from './values.ts';

/** The built-in Administrator (RID 500), exempt from lockout unless configured otherwise. */
function exemptFromLockout(ctx: EngineContext, entry: Pick<StoredEntry, 'sid'>): boolean {
  return !ctx.lockOutAdministrator && entry.sid !== null && entry.sid.endsWith(`-${wellKnownRids.administrator}`) && entry.sid.startsWith('S-1-5-21-');
}

export function lockedOut(ctx: EngineContext, attributes: AttributeMap, policy: DirectoryPolicy, now: Date, entry?: Pick<StoredEntry, 'sid'>): boolean {
  if (entry && exemptFromLockout(ctx, entry)) return false;
  const lockoutTime = bigint(attributes, 'lockoutTime');
  if (lockoutTime <= 0n) return false;
  if (policy.lockoutDurationMs === null) return true;
  return now.getTime() < filetimeToDate(lockoutTime).getTime() + policy.lockoutDurationMs;
}

export function passwordExpired(attributes: AttributeMap, policy: DirectoryPolicy, now: Date): boolean {
  const uac = int(attributes, 'userAccountControl');
  if (uac & uacFlags.dontExpirePassword) return false;
  const pwdLastSet = bigint(attributes, 'pwdLastSet');
  if (pwdLastSet === 0n) return true;
  if (policy.maxPwdAgeMs === null) return false;
  return now.getTime() >= filetimeToDate(pwdLastSet).getTime() + policy.maxPwdAgeMs;
}

/** The user a bind or password-modify name designates: DN, UPN (explicit or implicit), or DOMAIN\sam. */
export async function resolveAccountName(ctx: EngineContext, name: string, reads: DirectoryReads = ctx.store): Promise<StoredEntry | undefined> {
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 1024 || controlCharacters.test(trimmed)) return undefined;
  const backslash = trimmed.indexOf('\\');
  const users = (found: StoredEntry[]): StoredEntry | undefined => {
    const list = found.filter(isUser);
    return list.length === 1 ? list[0] : undefined;
  };
  if (backslash > 0 && !trimmed.includes('=')) {
    const domain = trimmed.slice(0, backslash).toUpperCase();
    const sam = trimmed.slice(backslash + 1);
    if (domain !== ctx.netbiosName && domain !== ctx.dnsName.toUpperCase()) return undefined;
    return users(await reads.lookup('sAMAccountName', indexKey('sAMAccountName', sam)));
  }
  if (trimmed.includes('=')) {
    const entry = await entryByDn(ctx, trimmed, reads);
    return entry && isUser(entry) ? entry : undefined;
  }
  const at = trimmed.lastIndexOf('@');
  if (at > 0) {
    const explicit = users(await reads.lookup('userPrincipalName', indexKey('userPrincipalName', trimmed)));
    if (explicit) return explicit;
    // AD also accepts the implicit UPN sAMAccountName@<dns domain>, whatever the account's own
    // UPN (another prefix or suffix); an explicit UPN that matches wins, as above.
    if (trimmed.slice(at + 1).toLowerCase() === ctx.dnsName) return users(await reads.lookup('sAMAccountName', indexKey('sAMAccountName', trimmed.slice(0, at))));
  }
  // A bare sAMAccountName is not a bind name for AD's simple bind.
  return undefined;
}

/** Unknown names pay a verification at the current parameters too, so their answer takes as long as a wrong password's. */
export function fakeVerify(ctx: EngineContext, password: string): Promise<boolean> {
  return ctx.hasher
    .dummyHash()
    .then((hash) => ctx.verify(password, hash))
    .then(() => false);
}

/** Records a wrong password: badPwdCount within the observation window, lockout at the threshold. */
async function recordBadPassword(ctx: EngineContext, guid: string): Promise<void> {
  // The serialised write takes the uSN counter before the read below.
  await ctx.serialisedWrite(async (tx) => {
    const [entry] = await tx.getByGuids([guid]);
    if (!entry) return;
    const { policy } = await currentPolicy(ctx, tx);
    const now = ctx.clock();
    const attributes = { ...entry.attributes };
    const lastBad = bigint(attributes, 'badPasswordTime');
    const windowOpen = lastBad > 0n && now.getTime() - filetimeToDate(lastBad).getTime() < policy.lockoutObservationWindowMs;
    const count = (windowOpen ? int(attributes, 'badPwdCount') : 0) + 1;
    attributes.badPwdCount = [String(count)];
    attributes.badPasswordTime = [filetime(now)];
    let usnChanged = entry.usnChanged;
    if (policy.lockoutThreshold > 0 && count >= policy.lockoutThreshold && !exemptFromLockout(ctx, entry) && !lockedOut(ctx, attributes, policy, now)) {
      attributes.lockoutTime = [filetime(now)];
      usnChanged = await tx.nextCounter('usn');
      attributes.whenChanged = [generalizedTime(now)];
    }
    await tx.update({ ...entry, attributes, usnChanged });
  });
}

export async function recordGoodPassword(ctx: EngineContext, entry: StoredEntry): Promise<void> {
  if (int(entry.attributes, 'badPwdCount') === 0 && bigint(entry.attributes, 'lockoutTime') === 0n) return;
  await ctx.serialisedWrite(async (tx) => {
    const [current] = await tx.getByGuids([entry.guid]);
    if (!current) return;
    const attributes: AttributeMap = { ...current.attributes, badPwdCount: ['0'] };
    let usnChanged = current.usnChanged;
    if (bigint(current.attributes, 'lockoutTime') !== 0n) {
      attributes.lockoutTime = ['0'];
      usnChanged = await tx.nextCounter('usn');
    }
    await tx.update({ ...current, attributes, usnChanged });
  });
}

export type Verification = { ok: true; entry: StoredEntry; policy: DirectoryPolicy; hash: string } | { ok: false; sub: '52e' | '775' };

/** Checks a password the way a bind does, with lockout accounting; no account-state checks. */
export async function verifyAccountPassword(ctx: EngineContext, name: string, password: string, resolved?: StoredEntry): Promise<Verification> {
  const entry = resolved ?? (await resolveAccountName(ctx, name));
  if (!entry) {
    await fakeVerify(ctx, password);
    return { ok: false, sub: '52e' };
  }
  const { policy } = await currentPolicy(ctx);
  const credentials = await ctx.store.getCredentials(entry.guid);
  const locked = lockedOut(ctx, entry.attributes, policy, ctx.clock(), entry);
  const hash = credentials?.hash;
  let correct: boolean;
  // A locked account always pays the hash: a fast 775 would tell a right guess from a wrong one.
  if (hash && !locked && ctx.verifiedPasswords.has(hash, password)) correct = true;
  else {
    correct = hash ? await ctx.verify(password, hash) : await fakeVerify(ctx, password);
    if (correct && hash && !locked) ctx.verifiedPasswords.remember(entry.guid, hash, password);
  }
  if (locked) return { ok: false, sub: '775' };
  if (!correct || !hash) {
    await recordBadPassword(ctx, entry.guid);
    return { ok: false, sub: '52e' };
  }
  return { ok: true, entry, policy, hash };
}

/**
 * A hash older than the configured one (scrypt from before issue 21, or Argon2id below today's
 * parameters), just proven by a successful bind, is replaced by one at the current parameters,
 * so nobody has to reset a password. Stored only if the account still has the hash that was
 * verified (a concurrent bind or password change wins), hence audited once per account. A
 * failure leaves the old hash, which still verifies: the next bind tries again.
 */
export async function upgradeHash(ctx: EngineContext, entry: StoredEntry, verified: string, password: string): Promise<void> {
  const { hasher, verifiedPasswords } = ctx;
  if (!hasher.needsRehash(verified)) return;
  try {
    const upgraded = await hasher.hash(password);
    // Serialised on the uSN counter, so concurrent upgrades read one after the other (PostgreSQL too).
    const replaced = await ctx.serialisedWrite(async (tx) => {
      const current = await tx.getCredentials(entry.guid);
      if (current?.hash !== verified) return false;
      await tx.setCredentials(entry.guid, { ...current, hash: upgraded });
      return true;
    });
    if (!replaced) return;
    verifiedPasswords.forget(entry.guid);
    verifiedPasswords.remember(entry.guid, upgraded, password);
    await ctx.audit?.({ action: 'directory.password.rehashed', target: entry.guid, details: { dn: entry.dn, from: hashAlgorithm(verified), to: hashAlgorithm(upgraded), parameters: hasher.description } });
  } catch {
    // Kept as it was; see above.
  }
}
