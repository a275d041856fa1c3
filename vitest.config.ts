import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((name) => existsSync(`${root}packages/${name}/package.json`));

// Tests read each package's source, never its build, so they run without `pnpm build`.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@peftjs\/([a-z0-9-]+)\/testing$/, replacement: `${root}packages/$1/src/testing/index.ts` },
      { find: /^@peftjs\/([a-z0-9-]+)\/node$/, replacement: `${root}packages/$1/src/node/index.ts` },
      { find: /^@peftjs\/([a-z0-9-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: [`${root}test-setup.ts`],
    projects: [
      ...packages.map((name) => ({ extends: true as const, test: { name, root: `${root}packages/${name}` } })),
      { extends: true as const, test: { name: 'examples', root: `${root}examples`, include: ['**/*.test.ts'] } },
    ],
  },
});
