/** The DirectoryStore contract on the in-memory store the unit tests use. */
import { createMemoryDirectoryStore } from '#src/directory/managed/engine/memory-store.ts';
import { directoryStoreContract } from '../../contract/directory-store.contract.ts';

directoryStoreContract(() => {
  const store = createMemoryDirectoryStore();
  return Promise.resolve({ store, dumpStorage: () => Promise.resolve(store.dump()), dispose: () => Promise.resolve() });
});
