/**
 * DirectoryStore in memory, for unit tests and throw-away directories. Transactions run one at a
 * time and undo their writes when they throw, so it honours the same contract as the SQL store.
 */
import { AppError } from '#src/shared/errors.ts';
import {
  entryIndexKeys,
  indexKey,
  type Counter,
  type Credentials,
  type DirectoryStore,
  type DirectoryWrites,
  type LinkedEntry,
  type LookupIndex,
  type MembershipLink,
  type StoredEntry,
} from './store.ts';
import { isChildOf, isWithin } from './dn.ts';

function clone(entry: StoredEntry): StoredEntry {
  const attributes: StoredEntry['attributes'] = {};
  for (const [name, values] of Object.entries(entry.attributes)) attributes[name] = values.map((v) => (Buffer.isBuffer(v) ? Buffer.from(v) : v));
  return { ...entry, attributes };
}

export function createMemoryDirectoryStore(): DirectoryStore & { dump(): string } {
  const entries = new Map<string, StoredEntry>(); // by guid
  const byNdn = new Map<string, string>();
  const links = new Map<string, MembershipLink>(); // key group|member
  const credentials = new Map<string, Credentials>();
  const counters = new Map<Counter, number>();
  let queue: Promise<unknown> = Promise.resolve();

  const keyOf = (link: MembershipLink): string => `${link.group}|${link.member}`;
  const sorted = (list: StoredEntry[]): StoredEntry[] => list.sort((a, b) => a.usnCreated - b.usnCreated);

  const reads = {
    getByNdn: (ndn: string) => {
      const guid = byNdn.get(ndn);
      const entry = guid === undefined ? undefined : entries.get(guid);
      return Promise.resolve(entry ? clone(entry) : undefined);
    },
    getByGuids: (guids: readonly string[]) =>
      Promise.resolve(sorted(guids.map((g) => entries.get(g)).filter((e): e is StoredEntry => e !== undefined).map(clone))),
    lookup: (index: LookupIndex, key: string) => {
      const out: StoredEntry[] = [];
      for (const entry of entries.values()) {
        const keys = entryIndexKeys(entry);
        const match =
          index === 'objectGUID' ? entry.guid === key
          : index === 'objectSid' ? entry.sid !== null && indexKey('objectSid', entry.sid) === key
          : index === 'sAMAccountName' ? keys.sam === key
          : index === 'userPrincipalName' ? keys.upn === key
          : keys.mail === key;
        if (match) out.push(clone(entry));
      }
      return Promise.resolve(sorted(out));
    },
    scan: ({ subtree, parent, afterUsn, limit }: { subtree?: string; parent?: string; afterUsn: number; limit: number }) => {
      const out = sorted(
        [...entries.values()].filter(
          (e) =>
            e.usnCreated > afterUsn &&
            (subtree === undefined || isWithin(e.ndn, subtree)) &&
            (parent === undefined || isChildOf(e.ndn, parent)),
        ),
      );
      return Promise.resolve(out.slice(0, limit).map(clone));
    },
    countSubtree: (ndn: string, cap: number) => {
      let count = 0;
      for (const e of entries.values()) if (isWithin(e.ndn, ndn) && (count += 1) > cap) break;
      return Promise.resolve(count);
    },
    hasChildren: (ndn: string) => Promise.resolve([...entries.values()].some((e) => e.parentNdn === ndn)),
    linksOfGroups: (groups: readonly string[]) => {
      const wanted = new Set(groups);
      return Promise.resolve([...links.values()].filter((l) => wanted.has(l.group)).map((l) => ({ ...l })));
    },
    linksOfMembers: (members: readonly string[]) => {
      const wanted = new Set(members);
      return Promise.resolve([...links.values()].filter((l) => wanted.has(l.member)).map((l) => ({ ...l })));
    },
    linked: (guid: string, direction: 'member' | 'memberOf') => {
      const out: Array<LinkedEntry & { usn: number }> = [];
      for (const link of links.values()) {
        const other = direction === 'member' ? (link.group === guid ? link.member : null) : link.member === guid ? link.group : null;
        const entry = other === null ? undefined : entries.get(other);
        if (entry) out.push({ guid: entry.guid, dn: entry.dn, usn: entry.usnCreated });
      }
      return Promise.resolve(out.sort((a, b) => a.usn - b.usn).map(({ guid: g, dn }) => ({ guid: g, dn })));
    },
    getCredentials: (guid: string) => {
      const found = credentials.get(guid);
      return Promise.resolve(found ? { hash: found.hash, history: [...found.history] } : undefined);
    },
    currentCounter: (counter: Counter) => Promise.resolve(counters.get(counter) ?? 0),
  };

  function conflictCheck(entry: StoredEntry, except: string | null): void {
    const keys = entryIndexKeys(entry);
    for (const other of entries.values()) {
      if (other.guid === except) continue;
      const otherKeys = entryIndexKeys(other);
      if (
        other.ndn === entry.ndn ||
        (except === null && other.guid === entry.guid) ||
        (entry.sid !== null && other.sid === entry.sid) ||
        (keys.sam !== null && otherKeys.sam === keys.sam) ||
        (keys.upn !== null && otherKeys.upn === keys.upn)
      ) {
        throw new AppError('storage.conflict', 'directory entry: the record already exists', { status: 409 });
      }
    }
  }

  function transaction<T>(work: (tx: DirectoryWrites) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const undo: Array<() => void> = [];
      const tx: DirectoryWrites = {
        ...reads,
        nextCounter: (counter) => {
          const previous = counters.get(counter);
          const value = (previous ?? 0) + 1;
          counters.set(counter, value);
          undo.push(() => (previous === undefined ? counters.delete(counter) : counters.set(counter, previous)));
          return Promise.resolve(value);
        },
        insert: (entry) => {
          conflictCheck(entry, null);
          entries.set(entry.guid, clone(entry));
          byNdn.set(entry.ndn, entry.guid);
          undo.push(() => {
            entries.delete(entry.guid);
            byNdn.delete(entry.ndn);
          });
          return Promise.resolve();
        },
        update: (entry) => {
          const previous = entries.get(entry.guid);
          if (!previous) throw new AppError('storage.not_found', 'directory entry: not found', { status: 404 });
          conflictCheck(entry, entry.guid);
          byNdn.delete(previous.ndn);
          entries.set(entry.guid, clone(entry));
          byNdn.set(entry.ndn, entry.guid);
          undo.push(() => {
            byNdn.delete(entry.ndn);
            entries.set(previous.guid, previous);
            byNdn.set(previous.ndn, previous.guid);
          });
          return Promise.resolve();
        },
        remove: (guid) => {
          const previous = entries.get(guid);
          if (!previous) return Promise.resolve();
          entries.delete(guid);
          byNdn.delete(previous.ndn);
          const removedLinks = [...links.values()].filter((l) => l.group === guid || l.member === guid);
          for (const link of removedLinks) links.delete(keyOf(link));
          const removedCredentials = credentials.get(guid);
          credentials.delete(guid);
          undo.push(() => {
            entries.set(guid, previous);
            byNdn.set(previous.ndn, guid);
            for (const link of removedLinks) links.set(keyOf(link), link);
            if (removedCredentials) credentials.set(guid, removedCredentials);
          });
          return Promise.resolve();
        },
        addLinks: (added) => {
          for (const link of added) {
            const key = keyOf(link);
            if (links.has(key)) throw new AppError('storage.conflict', 'membership: the record already exists', { status: 409 });
            links.set(key, { ...link });
            undo.push(() => links.delete(key));
          }
          return Promise.resolve();
        },
        removeLinks: (removed) => {
          for (const link of removed) {
            const key = keyOf(link);
            const previous = links.get(key);
            if (!previous) continue;
            links.delete(key);
            undo.push(() => links.set(key, previous));
          }
          return Promise.resolve();
        },
        setCredentials: (guid, value) => {
          const previous = credentials.get(guid);
          credentials.set(guid, { hash: value.hash, history: [...value.history] });
          undo.push(() => (previous ? credentials.set(guid, previous) : credentials.delete(guid)));
          return Promise.resolve();
        },
      };
      try {
        return await work(tx);
      } catch (error) {
        for (const step of undo.reverse()) step();
        throw error;
      }
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  }

  return {
    ...reads,
    transaction,
    dump: () => JSON.stringify({ entries: [...entries.values()], credentials: [...credentials.entries()] }),
  };
}
