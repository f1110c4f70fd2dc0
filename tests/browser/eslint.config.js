// The JavaScript linter over the web client (browser modules) and these tests (Node modules).
// Run from the repository root: npm --prefix tests/browser run lint (a step of .ci/run).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['tests/browser/node_modules/**', 'web/ocds/**'] },
  js.configs.recommended,
  {
    files: ['web/**/*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: globals.browser,
    },
  },
  {
    files: ['tests/browser/**/*.{js,mjs}'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // Test code runs in Node; the functions handed to page.evaluate run in the page.
      globals: { ...globals.node, ...globals.browser },
    },
  },
  {
    rules: {
      'no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
];
