export { PeftHubError } from './peft-hub-error';
export { SafetensorsFormatError, type SafetensorsFormatProblem } from './safetensors-format-error';
export { SafetensorsWriteError } from './safetensors-write-error';
export { HubNotFoundError } from './hub-not-found-error';
export { HubAuthenticationError } from './hub-authentication-error';
export { HubOfflineError } from './hub-offline-error';
export { HubDownloadError } from './hub-download-error';
export { HubRequestError } from './hub-request-error';
export { InvalidHubArgumentError } from './invalid-hub-argument-error';
