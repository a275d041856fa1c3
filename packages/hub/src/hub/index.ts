export { DEFAULT_ENDPOINT, type HubConnectionOptions, type HubCacheOptions } from './hub-settings';
export { parseRepoId, type HubRepoType, type ParsedRepoId } from './repo-id';
export { downloadRepo, downloadFile, type DownloadRepoOptions, type RepoSnapshot } from './download-repo';
export { pushFolderToHub, type PushFolderToHubOptions, type PushResult } from './push-folder-to-hub';
export { locateFolderOrRepo, type FolderOrRepo } from './locate-folder-or-repo';
