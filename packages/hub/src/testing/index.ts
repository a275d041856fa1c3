export {
  startFakeHub,
  gitBlobSha1,
  type FakeHub,
  type FakeHubOptions,
  type FakeHubFault,
  type FakeHubRequest,
  type FakeRepoType,
} from './fake-hub';
