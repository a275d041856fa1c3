export { NodeStorage, nodeStorage } from './node-storage';
