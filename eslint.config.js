// ESLint flat config (`npm run lint`, also run by `npm test`).
//
// TypeScript (src, test, bench) gets typescript-eslint's type-checked recommended rules through the
// project service, which reads tsconfig.json (the same program `tsc -p tsconfig.json` checks).
// The build and test scripts are plain ESM JavaScript for Node and get the JavaScript rules only.
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

// Node's globals for the .mjs scripts: the `globals` package is not a dependency, and these are
// the only ones the scripts may use without importing them.
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextDecoder',
    'TextEncoder',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
)

export default defineConfig(
  {
    ignores: ['dist/', '.build/', 'node_modules/', 'tools/', '.cache/', 'bench/out/', '**/*.d.ts'],
  },
  js.configs.recommended,
  {
    rules: {
      // The package rejects control characters in names and settings on purpose, and says so in a
      // regular expression such as /[\0-\x1f]/.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // tsc already reports unused locals and parameters (noUnusedLocals/noUnusedParameters);
      // this keeps the `_`-prefixed escape hatch consistent for destructuring and catch bindings.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      // Flags defensive casts and `match[1]!` on regexp groups, which document intent while
      // tsconfig leaves noUncheckedIndexedAccess off; it fired across most new files.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Error messages name the bad value they were given with String(value), whatever it is.
      '@typescript-eslint/no-base-to-string': 'off',
      // Kysely's style (and its Driver/DatabaseConnection interfaces) uses `async` methods that
      // return without awaiting, e.g. `async init() {}` or a pool factory `async () => pool`.
      '@typescript-eslint/require-await': 'off',
      // Kysely's own APIs return thenables (builders with `execute`) and tests pass async functions
      // to node:test hooks: only flag promises that are really dropped.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      // `reject(signal.reason)` is how an abortable wait rejects (as node:timers/promises does);
      // the reason is typed `any`. Matches only-throw-error's defaults for any and unknown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's `describe`/`it` return promises that the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests check what reached the server, and benchmark baselines call raw pg on purpose; pg
      // types result rows as `any`. src/ keeps these rules: no `any` leaks into the public API.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // kysely-codegen is an optional peer dependency: only the codegen command (src/codegen/) may
    // load it, so that importing the package never needs it (issue 11, "Layout"). Static imports,
    // `import type` and re-exports are no-restricted-imports' part; `import('kysely-codegen')` and
    // `typeof import('kysely-codegen')` are not import declarations and get no-restricted-syntax.
    files: ['src/**/*.ts'],
    ignores: ['src/codegen/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^kysely-codegen(/.*)?$',
              message: 'Only src/codegen/ may import kysely-codegen (an optional peer dependency).',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression[source.value=/^kysely-codegen(\\u002F|$)/]',
          message: 'Only src/codegen/ may import kysely-codegen (an optional peer dependency).',
        },
        {
          selector: 'TSImportType[argument.literal.value=/^kysely-codegen(\\u002F|$)/]',
          message: 'Only src/codegen/ may import kysely-codegen (an optional peer dependency).',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
)
