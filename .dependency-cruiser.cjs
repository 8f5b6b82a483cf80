/**
 * Import rules of issue 21, checked by `npm run lint` (and so by .ci/run) with no exceptions:
 * `npx depcruise src` prints every import that breaks one of them.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A file must not import itself back through others: move the shared type down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      comment: 'Folders (src/ingest, src/store, ...) must not import each other in a loop.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain holds the plain rules: it imports nothing of ours outside itself.',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'store-below-ingest-http-delivery',
      severity: 'error',
      comment: 'The store is read and written by ingest, http and delivery, never the reverse.',
      from: { path: '^src/store/' },
      to: { path: '^src/(ingest|http|delivery)/' },
    },
    {
      name: 'fastify-only-in-http',
      severity: 'error',
      comment:
        'Fastify stays at the edge: only src/http imports it or its plugins. @fastify/proxy-addr is ' +
        'a plain address matcher with no Fastify in it, so config may read trusted proxies with it.',
      from: { path: '^src/', pathNot: '^src/http/' },
      to: { path: '(^|/)node_modules/(fastify|@fastify/(?!proxy-addr/)[^/]+)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing is a typo or a missing package.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Tests may reach across folders (fixtures, helpers); the rules are about the product code.
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
