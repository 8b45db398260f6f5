// Lint rules on top of the strict compiler: the recommended sets, plus the ones that catch lost promises.
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['dist/**', 'build/**', 'build-plugin/**', 'node_modules/**', '.deps/**', 'native/**'] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
        rules: {
            '@typescript-eslint/no-floating-promises': 'error',
            '@typescript-eslint/no-misused-promises': 'error',
            '@typescript-eslint/consistent-type-imports': 'error',
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
            'no-console': 'error',
        },
    },
    {
        files: ['test/**/*.ts', 'bench/**/*.ts'],
        rules: {
            'no-console': 'off',
            '@typescript-eslint/no-unsafe-member-access': 'off',
            '@typescript-eslint/no-unsafe-assignment': 'off',
        },
    },
);
