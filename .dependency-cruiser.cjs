/**
 * Portico's house rules on who may import whom (issue 14), checked by `npm test`
 * (scripts/check-boundaries.sh, before the tests) and described with the domain map in
 * src/README.md. test/boundaries/rules.test.ts proves each rule bites on a forbidden import.
 * Tests (*.test.ts) are not domain code and are left out.
 */
/* global module -- a CommonJS config file, read by dependency-cruiser */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-domain-cycles',
      comment:
        'Domains (the folders of src/, and nested folders) depend on each other in one direction only: a folder loop means ' +
        'two domains are really one, or a port is declared on the wrong side.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-file-cycles',
      comment:
        'No import cycles between files either (a cycle inside one folder is still a knot). A loop made only of ' +
        'type-only imports is erased at run time and left alone (managed/server/connection.ts ⇄ log-limiter.ts today).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'only-storage-imports-database-drivers',
      comment: 'Only src/storage/ talks to a database: the drivers (better-sqlite3, pg) and the query builder (Kysely).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/storage/' },
      to: { path: '(^|/)node_modules/(better-sqlite3|pg|pg-[^/]+|kysely)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'only-directory-imports-ldapts',
      comment: 'Only src/directory/ talks LDAP.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/directory/' },
      to: { path: '(^|/)node_modules/ldapts/' },
    },
    {
      name: 'storage-is-wired-by-the-root',
      comment:
        'Stores are created in the composition root (src/app.ts) and handed to the domains, which declare the ports. ' +
        'No other file imports src/storage/.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/app[.]ts$', '^src/storage/'] },
      to: { path: '^src/storage/' },
    },
    {
      name: 'cli-never-imports-storage',
      comment: 'The CLI is a client of the admin API.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'the-root-is-imported-by-the-entry-only',
      comment:
        'src/app.ts composes everything; only the process entry (the start command) imports it, and the one host-local ' +
        'operations (admin-commands.ts: the bootstrap-token reset, for when no token works; backup/restore, which carry the instance key).',
      severity: 'error',
      from: { pathNot: ['^src/cli/start-command[.]ts$', '^src/cli/admin-commands[.]ts$'] },
      to: { path: '^src/app[.]ts$' },
    },
    {
      name: 'saml-core-imports-no-domain',
      comment:
        'src/federation/saml/ is the pure SAML protocol core: it imports only itself, src/shared/, the path registry ' +
        '(src/identity-store/paths.ts: what ${user:…} may name and how each value is read; pure, no I/O), and the ' +
        'identity-store user it renders as a type only (erased at run time).',
      severity: 'error',
      from: { path: '^src/federation/saml/' },
      to: { path: '^src/', pathNot: ['^src/federation/saml/', '^src/shared/', '^src/identity-store/user[.]ts$', '^src/identity-store/paths[.]ts$'] },
    },
    {
      name: 'saml-core-reads-the-user-as-a-type-only',
      comment: 'See saml-core-imports-no-domain.',
      severity: 'error',
      from: { path: '^src/federation/saml/' },
      to: { path: '^src/identity-store/user[.]ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'identity-store-api-reads-the-directory-through-identity-store',
      comment: 'The IdentityStore HTTP face holds no connector: group reads go through src/identity-store/directory-groups.ts.',
      severity: 'error',
      from: { path: '^src/identity-store-api/' },
      to: { path: '^src/directory/' },
    },
    {
      name: 'provisioning-is-the-jit-step-only',
      comment: 'src/provisioning/ maps a directory user to an identity-store record; it knows nothing of sign-in, sessions or HTTP.',
      severity: 'error',
      from: { path: '^src/provisioning/' },
      to: { path: '^src/(auth|sessions|portal|admin|access|federation)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '([.]test[.]ts$|^src/console/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json'] },
    skipAnalysisNotInRules: true,
  },
};
