// Lint rules, including the one-way dependencies between the engine's layers (STYLE.md):
// protocol depends on nothing; util on protocol; storage, crypto, archive, state, repository and roles on the
// layers named below; engine on those; daemon on engine; only the CLI composes everything.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layers = [
  'protocol',
  'util',
  'storage',
  'crypto',
  'archive',
  'state',
  'repository',
  'roles',
  'notify',
  'report',
  'engine',
  'daemon',
  'cli',
];
const base = ['protocol', 'util'];
const allowed = {
  protocol: [],
  util: ['protocol'],
  storage: base,
  crypto: base,
  archive: [...base, 'crypto'],
  state: [...base, 'crypto'],
  repository: [...base, 'crypto', 'archive', 'storage'],
  roles: [...base, 'archive'],
  notify: [...base, 'state'],
  report: base,
  engine: [...base, 'storage', 'crypto', 'archive', 'state', 'repository', 'roles', 'notify', 'report'],
  daemon: [...base, 'engine', 'state'],
  cli: layers,
};

/**
 * Files of an allowed layer that a layer may still not import: the engine does not know it is
 * served over JSON-RPC (it may use the protocol's objects, errors and events, not its methods).
 */
const forbiddenFiles = {
  engine: ['protocol/methods', 'protocol/jsonrpc'],
};

const layerRule = (layer) => {
  const forbidden = layers.filter((other) => other !== layer && !allowed[layer].includes(other));
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((other) => ({
              group: [`**/${other}/*`],
              message: `src/${layer} may not depend on src/${other} (see eslint.config.js for the layer rules).`,
            })),
            ...(forbiddenFiles[layer] ?? []).map((file) => ({
              group: [`**/${file}.js`],
              message: `src/${layer} may not import src/${file}.ts: the daemon maps the wire to the engine's own types.`,
            })),
          ],
        },
      ],
    },
  };
};

// Store failures state facts; the engine words the operator's advice (src/engine/storeAdvice.ts).
// So no string in src/storage names a cmdlet ('Set-Azs…') or a cmdlet parameter ('-Path').
const cmdletWords = String.raw`/(^|[\s'"(:])-[A-Z][a-zA-Z]+|\b[A-Z][a-z]+-Azs/`;
const storeWordsRule = {
  files: ['src/storage/**/*.ts'],
  rules: {
    'no-restricted-syntax': [
      'error',
      ...[`Literal[value=${cmdletWords}]`, `TemplateElement[value.raw=${cmdletWords}]`].map((selector) => ({
        selector,
        message:
          'Store messages state facts; cmdlet and parameter names belong in src/engine/storeAdvice.ts.',
      })),
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'module/**', '.bench/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Promises nobody awaits lose their errors; these two rules need the type checker.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test awaits the promises its test and hook functions return.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  ...layers.map(layerRule),
  storeWordsRule,
);
