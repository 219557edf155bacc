// Lint: typescript-eslint's recommended type-aware rules, plus the project's own few.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'bench/results/', 'docs/', 'eslint.config.js', '**/*.tmp.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Only src/config reads the environment.' },
      ],
    },
  },
  {
    // src/runs/crash-points.ts: the crash sweep's test-only hook reads its own variables, once, before any configuration.
    files: ['src/config/**', 'src/main.ts', 'src/runs/crash-points.ts', 'tests/**', 'bench/**', 'scripts/chaos/**', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['tests/**'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    // The examples are plain JavaScript for Node (their types are checked by tests/package against
    // the packed declarations), so no type-aware rules here.
    files: ['examples/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' }, parserOptions: { projectService: false } },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-restricted-syntax': 'off' },
  },
  {
    // Authorisation is decided in one place (docs/security.md): the ownership queries are used by src/runs/access.ts only.
    files: ['src/**'],
    ignores: ['src/runs/access.ts', 'src/store/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/store/runs.js'],
              importNames: ['getOwnRun', 'getOwnThread', 'lockOwnThread'],
              message: 'Check ownership through src/runs/access.ts.',
            },
          ],
        },
      ],
    },
  },
);
