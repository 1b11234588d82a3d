// ESLint: rules that catch bugs, not a style guide (Prettier owns the layout). `make verify` runs it.
// Type-aware rules share one TypeScript program, tsconfig.test.json, which covers every source, test,
// bench and example file; that is cheaper than a program per package and sees the test files too.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import fileComment from './scripts/eslint-file-comment.js';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**', 'coverage/**', 'bench/results/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A switch over a union names every member; a new member is then a compile-time to-do list.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Async I/O everywhere: a promise nobody awaits is an unhandled rejection or a race.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `let x; f(() => x.y); x = new X()`: the closure is why it is a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Indented YAML in test regexes reads better with its spaces than as / {4}/.
      'no-regex-spaces': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // verbatimModuleSyntax keeps type-only imports in the JS otherwise; `typeof import()` is how bench loads dist.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
    },
  },
  {
    // Tests poke at untyped JSON (CRDs, pod specs); `any` there costs nothing in production.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // A file's overview is marked @module and is not inherited by its first declaration (scripts/eslint-file-comment.js).
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { kubeburst: { rules: { 'file-comment': fileComment } } },
    rules: { 'kubeburst/file-comment': 'error' },
  },
);
