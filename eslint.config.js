import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'firmware-bridge/firmware/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // The CLIs, benchmarks and tests talk to a human on stdout.
    files: ['**/cli.ts', '**/cli/**', 'bench/**', 'scripts/**', '**/test/**', '**/main.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The browser app must not pull in node-only code (node:crypto, node:fs) from shared's server entry.
    files: ['web/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: '@smart-village/shared/server', message: 'node-only; the web app uses @smart-village/shared' }] }] },
  },
);
