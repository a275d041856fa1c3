export { describeTunerConformance, perturbAdapter, type ConformanceCase } from './conformance';
export { assertClose, maxCloseViolation, maxAbsDifference } from './tensor-assertions';
