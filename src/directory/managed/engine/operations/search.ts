/**
 * The search operation: base/one/sub scopes over the store (index plans from the filter, scans in
 * uSN order otherwise), AD's size and time limits, and the paged-results control with its cookies
 * kept in the engine context per session.
 */
import { randomBytes } from 'node:crypto';
import { ResultCode, oids, type Control, type LdapResult, type SearchRequest, type SearchSink, type Session } from '../../backend.ts';
import { currentPolicy, matchedDnOf, namingContextOf, type EngineContext, type PagedState } from '../context.ts';
import { decodePagedResults, encodePagedResults } from '../controls.ts';
import { isChildOf, isWithin, normalizeDn } from '../dn.ts';
import { compileFilter, type CompiledFilter, type Plan } from '../filter.ts';
import { resolverFor } from '../membership.ts';
import { LdapFailure, notBoundText, toResult, willNotPerform } from '../results.ts';
import { searchRootDse } from '../root-dse.ts';
import type { StoredEntry } from '../store.ts';
import { isTombstone, mayListDeleted, showDeletedOid } from '../tombstones.ts';
import { attributesOf, linksOf, parseSelection, viewOf } from '../views.ts';

const rootDseNdn = '';
/** Entries per store read while scanning. */
const scanBatch = 500;
/** Subtrees larger than this are scanned in uSN order rather than by DN range. */
const bigSubtree = 2000;
/** A paged search not continued within this long is forgotten (its cookie then fails). */
const pagedSearchLifetimeMs = 15 * 60_000;

function fingerprint(request: SearchRequest): string {
  return JSON.stringify([request.baseObject.toLowerCase(), request.scope, request.filter], (_key, value: unknown) => {
    if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
      return Buffer.from((value as { data: number[] }).data).toString('hex');
    }
    return value;
  });
}

function rememberPaged(ctx: EngineContext, cookie: string, state: PagedState): void {
  const { paged } = ctx;
  // Abandoned paged searches (the client never asked for the next page) are forgotten.
  const stale = ctx.clock().getTime() - pagedSearchLifetimeMs;
  for (const [key, value] of paged) if (value.createdAt < stale) paged.delete(key);
  paged.set(cookie, state);
  const mine = [...paged.entries()].filter(([, s]) => s.sessionId === state.sessionId);
  while (mine.length > ctx.limits.maxPagedSearchesPerSession) {
    const oldest = mine.shift();
    if (oldest) paged.delete(oldest[0]);
  }
}

/** Forgets a session's paged searches (the connection closed). */
export function closeSearchSession(ctx: EngineContext, sessionId: string): void {
  for (const [cookie, state] of ctx.paged) if (state.sessionId === sessionId) ctx.paged.delete(cookie);
}

/** Candidates of an indexed plan, ordered by uSNCreated. */
async function planCandidates(ctx: EngineContext, plan: Plan): Promise<StoredEntry[]> {
  const { store } = ctx;
  switch (plan.kind) {
    case 'none':
      return [];
    case 'lookup':
      return store.lookup(plan.index, plan.key);
    case 'dn': {
      const found = await store.getByNdn(plan.ndn);
      return found ? [found] : [];
    }
    case 'guids': {
      const guids = [...plan.guids];
      const out: StoredEntry[] = [];
      for (let i = 0; i < guids.length; i += 500) out.push(...(await store.getByGuids(guids.slice(i, i + 500))));
      return out.sort((a, b) => a.usnCreated - b.usnCreated);
    }
    case 'union': {
      const byGuid = new Map<string, StoredEntry>();
      for (const part of plan.plans) for (const entry of await planCandidates(ctx, part)) byGuid.set(entry.guid, entry);
      return [...byGuid.values()].sort((a, b) => a.usnCreated - b.usnCreated);
    }
  }
}

async function* candidates(ctx: EngineContext, compiled: CompiledFilter, request: SearchRequest, base: StoredEntry, afterUsn: number): AsyncGenerator<StoredEntry[]> {
  if (request.scope === 'base') {
    if (base.usnCreated > afterUsn) yield [base];
    return;
  }
  if (compiled.plan !== null) {
    const found = (await planCandidates(ctx, compiled.plan)).filter((e) => e.usnCreated > afterUsn);
    for (let i = 0; i < found.length; i += 200) yield found.slice(i, i + 200);
    return;
  }
  let cursor = afterUsn;
  // A big subtree (a naming-context root, CN=Users of a large domain) is scanned in uSN order
  // without a DN range, the scope and partition tests below doing the filtering: linear. A DN
  // range sorted by uSN for every batch would be quadratic; for small subtrees it is the cheap way.
  const whole =
    request.scope === 'sub' && (ctx.namingContexts.includes(base.ndn) || (await ctx.store.countSubtree(base.ndn, bigSubtree)) > bigSubtree);
  for (;;) {
    const batch = await ctx.store.scan(
      request.scope === 'one'
        ? { parent: base.ndn, afterUsn: cursor, limit: scanBatch }
        : whole
          ? { afterUsn: cursor, limit: scanBatch }
          : { subtree: base.ndn, afterUsn: cursor, limit: scanBatch },
    );
    if (batch.length === 0) return;
    yield batch;
    cursor = (batch[batch.length - 1] as StoredEntry).usnCreated;
    if (batch.length < scanBatch) return;
  }
}

function pagedControl(cookie: Buffer): Control {
  // The size field of a response is an estimate of the total; 0 means "unknown", as AD sends.
  return { oid: oids.pagedResults, critical: false, value: encodePagedResults(0, cookie) };
}

export async function search(ctx: EngineContext, session: Session, request: SearchRequest, controls: Control[], sink: SearchSink): Promise<{ result: LdapResult; controls?: Control[] }> {
  const { store, clock, limits, paged } = ctx;
  try {
    let pagedRequest: { size: number; cookie: Buffer } | null = null;
    let showDeletedAsked = false;
    for (const control of controls) {
      if (control.oid === oids.pagedResults) {
        try {
          pagedRequest = decodePagedResults(control.value ?? Buffer.alloc(0));
        } catch {
          throw new LdapFailure(ResultCode.protocolError, 'the paged-results control value is not valid');
        }
      } else if (control.oid === showDeletedOid) {
        showDeletedAsked = true;
      } else if (control.critical) {
        throw new LdapFailure(ResultCode.unavailableCriticalExtension, `the critical control ${control.oid} is not supported`);
      }
    }

    let baseNdnOfSearch: string;
    try {
      baseNdnOfSearch = normalizeDn(request.baseObject);
    } catch {
      throw new LdapFailure(ResultCode.invalidDNSyntax, `0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME), data 8350, best match of: '${request.baseObject}'`);
    }
    if (baseNdnOfSearch === rootDseNdn) {
      if (request.scope === 'base') return { result: await searchRootDse(ctx, request, sink) };
      if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);
      return { result: { resultCode: ResultCode.success } };
    }
    if (session.boundDn === null) throw new LdapFailure(ResultCode.operationsError, notBoundText);

    // Show Deleted lists tombstones to the accounts allowed to see them; to the others it is ignored.
    const showDeleted = showDeletedAsked && (await mayListDeleted(ctx, session));
    const found = await store.getByNdn(baseNdnOfSearch);
    const base = found && (showDeleted || !isTombstone(found)) ? found : undefined;
    if (!base) {
      throw new LdapFailure(
        ResultCode.noSuchObject,
        `0000208D: NameErr: DSID-03100241, problem 2001 (NO_OBJECT), data 0, best match of: '${request.baseObject}'`,
        (await matchedDnOf(ctx, baseNdnOfSearch)) ?? '',
      );
    }

    // Paging state: a new search, or the continuation a cookie names.
    const print = fingerprint(request);
    let state: PagedState | null = null;
    let cookieId: string | null = null;
    if (pagedRequest && pagedRequest.cookie.length > 0) {
      cookieId = pagedRequest.cookie.toString('hex');
      const found = paged.get(cookieId);
      if (!found || found.sessionId !== session.id || found.fingerprint !== print || found.createdAt < clock().getTime() - pagedSearchLifetimeMs) {
        throw new LdapFailure(ResultCode.unwillingToPerform, willNotPerform('the paged-results cookie is not valid for this search'));
      }
      paged.delete(cookieId);
      if (pagedRequest.size <= 0) {
        // RFC 2696: a size of 0 with a cookie abandons the paged search.
        return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
      }
      state = found;
    }
    const pageSize = pagedRequest ? Math.min(Math.max(pagedRequest.size, 1), limits.maxPageSize) : null;
    if (pagedRequest && pagedRequest.size <= 0 && !state) {
      return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
    }
    const sizeLimit =
      request.sizeLimit > 0 ? (pageSize === null ? Math.min(request.sizeLimit, limits.maxPageSize) : request.sizeLimit) : pageSize === null ? limits.maxPageSize : Infinity;
    const clientLimited = request.sizeLimit > 0;
    const started = clock().getTime();
    const timeLimitSeconds = request.timeLimit > 0 ? Math.min(request.timeLimit, limits.maxQueryDurationSeconds) : limits.maxQueryDurationSeconds;
    const deadline = started + timeLimitSeconds * 1000;

    const compiled = await compileFilter(request.filter, resolverFor(ctx));
    const { policy } = await currentPolicy(ctx);
    const selection = parseSelection(request.attributes);
    const baseNc = namingContextOf(ctx, base.ndn);
    const afterUsn = state?.afterUsn ?? 0;
    let returned = state?.returned ?? 0;
    let onPage = 0;
    let lastUsn = afterUsn;
    let more = false;
    let limitHit = false;

    outer: for await (const batch of candidates(ctx, compiled, request, base, afterUsn)) {
      for (const entry of batch) {
        if (sink.signal.aborted) return { result: { resultCode: ResultCode.other, diagnosticMessage: 'the search was abandoned' } };
        if (clock().getTime() > deadline) {
          return { result: { resultCode: ResultCode.timeLimitExceeded } };
        }
        if (request.scope === 'one' && !isChildOf(entry.ndn, base.ndn)) continue;
        if (request.scope === 'sub' && !isWithin(entry.ndn, base.ndn)) continue;
        if (request.scope !== 'base' && namingContextOf(ctx, entry.ndn) !== baseNc) continue;
        if (!showDeleted && isTombstone(entry)) continue;
        const links = compiled.readsLinks ? await linksOf(ctx, entry) : undefined;
        if (compiled.test(viewOf(ctx, entry, { policy, now: clock(), ...(links ? { links } : {}) })) !== true) continue;
        if (returned >= sizeLimit || (pageSize !== null && onPage >= pageSize)) {
          more = true;
          limitHit = returned >= sizeLimit;
          break outer;
        }
        await sink.entry({ objectName: entry.dn, attributes: await attributesOf(ctx, entry, selection, request.typesOnly, request.scope === 'base', policy) });
        returned += 1;
        onPage += 1;
        lastUsn = entry.usnCreated;
      }
    }

    if (limitHit) {
      const result: LdapResult = { resultCode: ResultCode.sizeLimitExceeded };
      if (!clientLimited && pageSize === null) {
        result.diagnosticMessage = `the search returned more than ${limits.maxPageSize} entries: use the paged-results control`;
      }
      return pageSize === null ? { result } : { result, controls: [pagedControl(Buffer.alloc(0))] };
    }
    if (pageSize === null) return { result: { resultCode: ResultCode.success } };
    if (!more) return { result: { resultCode: ResultCode.success }, controls: [pagedControl(Buffer.alloc(0))] };
    const cookie = randomBytes(16);
    rememberPaged(ctx, cookie.toString('hex'), { sessionId: session.id, fingerprint: print, afterUsn: lastUsn, returned, createdAt: clock().getTime() });
    return { result: { resultCode: ResultCode.success }, controls: [pagedControl(cookie)] };
  } catch (error) {
    return { result: toResult(error) };
  }
}
