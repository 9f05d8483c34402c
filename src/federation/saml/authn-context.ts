/**
 * An SP's RequestedAuthnContext (SAML core 3.3.2.2.1) against what Portico can deliver. Pure.
 *
 * Portico authenticates at two strengths, each with the class references it states for it:
 * - password (level 1): `…:ac:classes:PasswordProtectedTransport` (what it says by default; the
 *   password always travels over TLS) and `…:ac:classes:Password`;
 * - MFA (level 2): `https://refeds.org/profile/mfa` (REFEDS MFA: a password and a second,
 *   independent factor).
 * `…:ac:classes:unspecified` is met by either. Every other class — TimeSyncToken,
 * MobileTwoFactorContract, Kerberos, X509, … — is unknown on purpose: each names a mechanism
 * (a hardware time token, a mobile contract, a certificate) Portico's factors do not promise to
 * be, so claiming it would be untrue. An SP that wants MFA asks for REFEDS MFA.
 *
 * Comparisons, with the known classes ranked by level (unknown ones cannot be ranked):
 * - exact: one of the listed classes, the first the session meets in the SP's order;
 * - minimum: at least as strong as the weakest known listed class;
 * - better: stronger than every known listed class;
 * - maximum: no stronger than the strongest known listed class, as strong as the session allows.
 * A session that authenticated with MFA also authenticated with a password, so it may truthfully be
 * stated at the password level when that is what the SP wants. No known class (or a DeclRef,
 * which Portico does not support): the request cannot be satisfied (NoAuthnContext).
 */
import { PASSWORD_PROTECTED_TRANSPORT, REFEDS_MFA } from './response.ts';

export const AUTHN_COMPARISONS = ['exact', 'minimum', 'better', 'maximum'] as const;
export type AuthnComparison = (typeof AUTHN_COMPARISONS)[number];

export interface RequestedAuthnContext {
  comparison: AuthnComparison;
  /** AuthnContextClassRef values, in the SP's order of preference. */
  classRefs: string[];
  /** AuthnContextDeclRef values: never satisfied by Portico. */
  declRefs: string[];
}

export const PASSWORD_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:Password';
export const UNSPECIFIED_CLASS = 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified';

/** 1: password; 2: password and a second factor. */
export type AuthnLevel = 1 | 2;

/** The classes Portico states, by level; the first of each is what it states unless asked otherwise. */
const CLASSES_BY_LEVEL: Readonly<Record<AuthnLevel, readonly string[]>> = {
  1: [PASSWORD_PROTECTED_TRANSPORT, PASSWORD_CLASS],
  2: [REFEDS_MFA],
};

/** The level of a class Portico knows; undefined for the rest (unspecified is handled apart). */
export function levelOfClass(classRef: string): AuthnLevel | undefined {
  if (CLASSES_BY_LEVEL[1].includes(classRef)) return 1;
  if (CLASSES_BY_LEVEL[2].includes(classRef)) return 2;
  return undefined;
}

/** The class Portico states for a level when the request leaves it free. */
export const defaultClassOf = (level: AuthnLevel): string => CLASSES_BY_LEVEL[level][0] ?? PASSWORD_PROTECTED_TRANSPORT;

export type AuthnContextDecision =
  /** State this class; `level` says which authentication it rests on (its AuthnInstant). */
  | { kind: 'satisfied'; classRef: string; level: AuthnLevel }
  /** The session is too weak but a second factor would do: step up, then decide again. */
  | { kind: 'step-up' }
  /** Nothing Portico can do meets the request: answer NoAuthnContext. */
  | { kind: 'unsatisfiable'; reason: string };

export interface AuthnContextSituation {
  /** What the session has done. */
  sessionLevel: AuthnLevel;
  /** Whether this person can complete a second factor now (a device, or may register one). */
  mfaPossible: boolean;
}

/**
 * What to state for a request, given the session. Without a RequestedAuthnContext the session's
 * own context is stated. An `unspecified` class is met by any session at its own level.
 */
export function decideAuthnContext(requested: RequestedAuthnContext | undefined, situation: AuthnContextSituation): AuthnContextDecision {
  const own: AuthnContextDecision = { kind: 'satisfied', classRef: defaultClassOf(situation.sessionLevel), level: situation.sessionLevel };
  if (requested === undefined) return own;
  if (requested.declRefs.length > 0) return { kind: 'unsatisfiable', reason: 'Portico supports AuthnContextClassRef only, not AuthnContextDeclRef' };

  // The levels (with the class to state for each) the request accepts, best first for the SP.
  const acceptable = acceptableClasses(requested);
  if (acceptable.length === 0) {
    return { kind: 'unsatisfiable', reason: `Portico cannot authenticate with ${describe(requested)}; it offers ${[...CLASSES_BY_LEVEL[1], ...CLASSES_BY_LEVEL[2]].join(', ')}` };
  }
  // The strongest the session truthfully supports (maximum: as strong as possible), or for exact the SP's first choice it meets.
  const met = acceptable.filter((entry) => entry.level === 'any' || entry.level <= situation.sessionLevel);
  const choice = requested.comparison === 'exact' ? met[0] : [...met].sort((a, b) => rank(b, situation) - rank(a, situation))[0];
  if (choice !== undefined) return choice.level === 'any' ? own : { kind: 'satisfied', classRef: choice.classRef, level: choice.level };
  // Only a stronger authentication than the session's will do: MFA is the only stronger one there is.
  if (situation.mfaPossible) return { kind: 'step-up' };
  return { kind: 'unsatisfiable', reason: `${describe(requested)} needs multi-factor authentication, which this account cannot complete` };
}

/** Whether any session could ever meet the request (known before anyone signs in). */
export function satisfiableAtAll(requested: RequestedAuthnContext | undefined): { ok: true } | { ok: false; reason: string } {
  const decision = decideAuthnContext(requested, { sessionLevel: 2, mfaPossible: false });
  return decision.kind === 'unsatisfiable' ? { ok: false, reason: decision.reason } : { ok: true };
}

interface Acceptable {
  classRef: string;
  level: AuthnLevel | 'any';
}

const rank = (entry: Acceptable, situation: AuthnContextSituation): number => (entry.level === 'any' ? situation.sessionLevel : entry.level);

function acceptableClasses(requested: RequestedAuthnContext): Acceptable[] {
  const listed = requested.classRefs.map((classRef) => ({ classRef, level: classRef === UNSPECIFIED_CLASS ? ('any' as const) : levelOfClass(classRef) }));
  const known = listed.filter((entry): entry is Acceptable => entry.level !== undefined);
  if (requested.comparison === 'exact') return known;
  // Ranked comparisons: `unspecified` places no bound.
  const ranked = known.map((entry) => entry.level).filter((level): level is AuthnLevel => level !== 'any');
  if (known.some((entry) => entry.level === 'any') && ranked.length === 0) return requested.comparison === 'better' ? levelsFrom(2, 2) : levelsFrom(1, 2);
  if (ranked.length === 0) return [];
  const weakest = Math.min(...ranked) as AuthnLevel;
  const strongest = Math.max(...ranked) as AuthnLevel;
  switch (requested.comparison) {
    case 'minimum':
      return levelsFrom(weakest, 2, known);
    case 'better':
      return strongest >= 2 ? [] : levelsFrom(2, 2, known);
    case 'maximum':
      return levelsFrom(1, strongest, known);
  }
}

/** One class per level in [from, to]: a listed class of that level when there is one (the SP's words), else Portico's default. */
function levelsFrom(from: AuthnLevel, to: AuthnLevel, listed: readonly Acceptable[] = []): Acceptable[] {
  const levels = ([1, 2] as const).filter((level) => level >= from && level <= to);
  return levels.map((level) => ({ classRef: listed.find((entry) => entry.level === level)?.classRef ?? defaultClassOf(level), level }));
}

function describe(requested: RequestedAuthnContext): string {
  const classes = requested.classRefs.length === 0 ? 'no class' : requested.classRefs.map((c) => (c.length > 120 ? `${c.slice(0, 120)}…` : c)).join(', ');
  return `${requested.comparison} ${classes}`;
}
