// The seeded generator is core's (one copy for the CLI, the browser page, models and lora).
export { createSeededRandom, shuffled, withSeededMathRandom } from '@peftjs/core';
