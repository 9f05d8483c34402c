/**
 * The managed directory's engine: an Active Directory-shaped DirectoryBackend over a
 * DirectoryStore. It owns the schema, search semantics (scopes, filters, paging, ranges,
 * constructed attributes), binds with AD's sub-codes and lockout, the password policy, and
 * administrator-only writes with referential integrity (links are kept by GUID, so renames and
 * moves never leave a stale member value).
 *
 * This file is the façade: it builds the engine context once (context.ts) and hands each LDAP
 * operation to its module under operations/; views, accounts and lockout, membership and
 * provisioning have modules of their own beside it.
 */
import { bootstrap } from './bootstrap.ts';
import { createEngineContext } from './context.ts';
import { add } from './operations/add.ts';
import { bind } from './operations/bind.ts';
import { compare } from './operations/compare.ts';
import { remove } from './operations/delete.ts';
import { modifyDn } from './operations/modify-dn.ts';
import { modify } from './operations/modify.ts';
import { passwordModify } from './operations/password.ts';
import { closeSearchSession, search } from './operations/search.ts';
import { allAttributeTypes } from './schema.ts';
import { purgeTombstones } from './tombstones.ts';
import type { DirectoryEngine, DirectoryEngineOptions } from './types.ts';

export type { BootstrapOptions, DirectoryAuditEvent, DirectoryEngine, DirectoryEngineOptions, DomainOptions, EngineLimits } from './types.ts';

export function createDirectoryEngine(options: DirectoryEngineOptions): DirectoryEngine {
  const ctx = createEngineContext(options);
  return {
    baseDn: ctx.baseDn,
    bind: (session, name, password) => bind(ctx, session, name, password),
    search: (session, request, controls, sink) => search(ctx, session, request, controls, sink),
    add: (session, request) => add(ctx, session, request),
    modify: (session, dn, changes) => modify(ctx, session, dn, changes),
    delete: (session, dn) => remove(ctx, session, dn),
    modifyDn: (session, request) => modifyDn(ctx, session, request),
    compare: (session, dn, attribute, value) => compare(ctx, session, dn, attribute, value),
    passwordModify: (session, request) => passwordModify(ctx, session, request),
    bootstrap: (bootstrapOptions) => bootstrap(ctx, bootstrapOptions),
    closeSession: (sessionId) => closeSearchSession(ctx, sessionId),
    purgeTombstones: () => purgeTombstones(ctx),
  };
}

/** Every attribute type the engine knows, for the server's schema answers and documentation. */
export function knownAttributeNames(): string[] {
  return [...allAttributeTypes()].map((t) => t.name);
}
