// pnpm reads this file on every install. It stands in for `auto-install-peers=false`, which pnpm 9
// accepts only from .npmrc, where npm warns "Unknown project config" on every npm and npx call.
// With pnpm's default (auto-install-peers=true) these two rules keep the installed tree as it was.

// A workspace package's optional peers are choices for its users (tfjs-node downloads
// libtensorflow when installed; vitest only for core's test helpers). Inside the repository the
// package's devDependencies provide what its tests need, so an optional peer that is not one of
// them is not installed for it.
function dropUninstalledOptionalPeers(manifest) {
  const meta = manifest.peerDependenciesMeta ?? {};
  for (const name of Object.keys(manifest.peerDependencies ?? {})) {
    if (meta[name]?.optional && !manifest.devDependencies?.[name]) delete manifest.peerDependencies[name];
  }
}

// Third-party peers that nothing here uses: the mobilenet-lora example imports only nsfwjs's
// model module, which needs neither the tfjs bundle nor buffer; the docs site's search sends no
// analytics.
const unusedPeers = {
  nsfwjs: ['@tensorflow/tfjs', 'buffer'],
  '@algolia/autocomplete-plugin-algolia-insights': ['search-insights'],
};

function markUnusedPeersOptional(manifest) {
  const names = unusedPeers[manifest.name] ?? [];
  if (names.length === 0) return;
  manifest.peerDependenciesMeta ??= {};
  for (const name of names) manifest.peerDependenciesMeta[name] = { ...manifest.peerDependenciesMeta[name], optional: true };
}

function readPackage(manifest) {
  if (manifest.name?.startsWith('@peftjs/')) dropUninstalledOptionalPeers(manifest);
  else markUnusedPeersOptional(manifest);
  return manifest;
}

module.exports = { hooks: { readPackage } };
