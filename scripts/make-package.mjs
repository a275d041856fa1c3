// One-off scaffolder kept for new method packages: node scripts/make-package.mjs <name> "<description>" [plugin]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';

const [name, description, kind] = process.argv.slice(2);
if (!name || !description) {
  console.error('usage: node scripts/make-package.mjs <name> "<description>" [plugin]');
  process.exit(2);
}
const dir = `packages/${name}`;
if (existsSync(`${dir}/package.json`)) {
  console.error(`${dir} exists`);
  process.exit(2);
}
mkdirSync(`${dir}/src`, { recursive: true });
const tf = { '@tensorflow/tfjs-core': '4.22.0', '@tensorflow/tfjs-layers': '4.22.0' };
const plugin = kind === 'plugin';
const pkg = {
  name: `@peftjs/${name}`,
  version: '0.1.0',
  description,
  license: 'Apache-2.0',
  type: 'module',
  sideEffects: false,
  exports: {
    '.': { types: './dist/index.d.ts', import: './dist/index.js' },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  files: ['dist', 'src', '!src/**/*.test.ts', '!src/__fixtures__', 'README.md', 'CHANGELOG.md'],
  scripts: { build: 'tsup' },
  peerDependencies: { ...tf, ...(plugin ? { '@peftjs/core': 'workspace:^' } : {}) },
  devDependencies: { ...tf, ...(plugin ? { '@peftjs/core': 'workspace:*' } : {}) },
};
writeFileSync(`${dir}/package.json`, `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(
  `${dir}/tsup.config.ts`,
  `import { defineConfig } from 'tsup';\n\nexport default defineConfig({\n  entry: ['src/index.ts'],\n  format: ['esm'],\n  dts: true,\n  sourcemap: true,\n  clean: true,\n  external: [/^@tensorflow\\//, /^@peftjs\\//],\n});\n`,
);
writeFileSync(`${dir}/tsconfig.json`, `${JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src'], exclude: ['src/**/*.test.ts', 'src/__fixtures__'] }, null, 2)}\n`);
writeFileSync(`${dir}/README.md`, `# @peftjs/${name}\n\n${description}\n`);
console.log(`created ${dir}`);
