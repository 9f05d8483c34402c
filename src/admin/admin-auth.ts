/**
 * Who may use the admin API: members of the configured AD groups (signed in like anyone else,
 * through their portal session), and the holder of the bootstrap token printed once at first
 * start for the very first setup. Only the token's SHA-256 is stored; an administrator can
 * disable it once an admin group is configured, or issue a new one from the host.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { SessionAccessCache } from '#src/access/session-access.ts';
import { createSessionReader } from '#src/platform/http/index.ts';
import type { Session } from '#src/sessions/session-store.ts';
import type { SessionService } from '#src/sessions/sessions.ts';
import type { SettingsStore, SharedSettingsStore } from '#src/settings/settings-store.ts';
import { AppError } from '#src/shared/errors.ts';

const TOKEN_SETTING = 'admin_bootstrap_token';
const TOKEN_PREFIX = 'pbt_';

interface StoredToken {
  sha256: string | null;
  createdAt: string;
  disabledAt?: string;
}

export interface AdminIdentity {
  /** The audit log's actor: `bootstrap-token` or the administrator's user name. */
  actor: string;
  via: 'bootstrap-token' | 'session';
  session: Session | null;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Creates the bootstrap token on first start; returns it that one time (null afterwards). Of
 * several instances starting together on one database, only the one whose token was stored
 * shows it: the others' would not work.
 */
export async function ensureBootstrapToken(settings: SharedSettingsStore, at: Date): Promise<string | null> {
  if ((await settings.get(TOKEN_SETTING)) !== undefined) return null;
  const token = newToken();
  return (await settings.create(TOKEN_SETTING, { sha256: sha256(token), createdAt: at.toISOString() } satisfies StoredToken, at)) ? token : null;
}

const newToken = (): string => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

/** A new bootstrap token replacing any previous one (the host's `portico admin bootstrap-token --reset`). */
export async function issueBootstrapToken(settings: SettingsStore, at: Date): Promise<string> {
  const token = newToken();
  await settings.set(TOKEN_SETTING, { sha256: sha256(token), createdAt: at.toISOString() } satisfies StoredToken, at);
  return token;
}

export async function disableBootstrapToken(settings: SettingsStore, at: Date): Promise<boolean> {
  const stored = (await settings.get(TOKEN_SETTING)) as StoredToken | undefined;
  if (stored === undefined || stored.sha256 === null) return false;
  await settings.set(TOKEN_SETTING, { sha256: null, createdAt: stored.createdAt, disabledAt: at.toISOString() } satisfies StoredToken, at);
  return true;
}

export interface AdminAuthOptions {
  settings: SettingsStore;
  sessions: SessionService;
  sessionAccess: SessionAccessCache;
  /** `name@domain` or objectGUID of the administrators' AD groups. */
  adminGroups: readonly string[];
}

export function createAdminAuth({ settings, sessions, sessionAccess, adminGroups }: AdminAuthOptions) {
  const wanted = new Set(adminGroups.map((g) => g.toLowerCase()));
  const reader = createSessionReader({ sessions });

  async function fromToken(token: string): Promise<AdminIdentity> {
    const stored = (await settings.get(TOKEN_SETTING)) as StoredToken | undefined;
    const expected = stored?.sha256 ? Buffer.from(stored.sha256, 'hex') : null;
    const given = Buffer.from(sha256(token), 'hex');
    if (expected === null || !timingSafeEqual(expected, given)) {
      throw new AppError('admin.unauthenticated', 'the bearer token is not valid (the bootstrap token may have been disabled or replaced)', { status: 401 });
    }
    return { actor: 'bootstrap-token', via: 'bootstrap-token', session: null };
  }

  async function fromSession(session: Session): Promise<AdminIdentity> {
    const { groups } = await sessionAccess.forSession(session);
    const admin = groups.some((g) => wanted.has(g.guid.toLowerCase()) || wanted.has(g.qualifiedName.toLowerCase()));
    if (!admin) {
      throw new AppError('admin.forbidden', `${session.data.userName} is not in an administrators group${wanted.size === 0 ? ' (no admin.groups are configured; use the bootstrap token)' : ''}`, { status: 403 });
    }
    return { actor: session.data.userName, via: 'session', session };
  }

  return {
    async authenticate(request: FastifyRequest): Promise<AdminIdentity> {
      const header = request.headers.authorization;
      if (header !== undefined) {
        const match = /^Bearer ([\w-]{1,200})$/.exec(header);
        if (match?.[1] === undefined) throw new AppError('admin.unauthenticated', 'Authorization must be "Bearer <token>"', { status: 401 });
        return fromToken(match[1]);
      }
      const found = await reader.current(request);
      if (found === null) throw new AppError('admin.unauthenticated', 'sign in as an administrator, or send the bootstrap token as a bearer token', { status: 401 });
      return fromSession(found.session);
    },
  };
}

export type AdminAuth = ReturnType<typeof createAdminAuth>;
