/**
 * How an instance learns that another one changed shared data it caches (issue 15): one counter
 * per topic in the database, bumped after each change is committed. On PostgreSQL every instance
 * hears the bump at once (LISTEN/NOTIFY) and also re-reads the counters periodically, the
 * fallback for a notification lost while its listening connection was down; on SQLite (one
 * instance) the bump reaches this process's listeners directly.
 */
export type ChangeTopic = 'access' | 'signing-keys';

export interface ChangeFeed {
  /** The latest version of `topic` this instance knows (0 before any change). */
  version(topic: ChangeTopic): number;
  /** Records a change of `topic` (call after its commit); resolves with the new version, once this instance's listeners ran. */
  announce(topic: ChangeTopic): Promise<number>;
  /** `listener` runs whenever a newer version of `topic` becomes known, whoever made it. */
  subscribe(topic: ChangeTopic, listener: (version: number) => void): () => void;
}

/** A feed for a single process without a database (unit tests): announcements reach this process only. */
export function createLocalChangeFeed(): ChangeFeed {
  const versions = new Map<ChangeTopic, number>();
  const listeners = new Map<ChangeTopic, Set<(version: number) => void>>();
  return {
    version: (topic) => versions.get(topic) ?? 0,
    announce(topic) {
      const version = (versions.get(topic) ?? 0) + 1;
      versions.set(topic, version);
      for (const listener of listeners.get(topic) ?? []) listener(version);
      return Promise.resolve(version);
    },
    subscribe(topic, listener) {
      const set = listeners.get(topic) ?? new Set();
      listeners.set(topic, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}
