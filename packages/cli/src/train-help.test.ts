import { expect, it } from 'vitest';
import { buildProgram } from './cli';
import { processIo } from './cli-io';
import { registerBuiltinTuners } from './util/methods';

it("train --help shows the common options first, then each method's options under its own heading", () => {
  registerBuiltinTuners();
  const train = buildProgram(processIo())
    .commands.find((command) => command.name() === 'train')!
    .helpInformation();
  const at = (text: string) => {
    const index = train.indexOf(text);
    expect(index, text).toBeGreaterThanOrEqual(0);
    return index;
  };
  // Common options (data, schedule, storage) come before any method's.
  const methods = at('Method options shared by several methods:');
  for (const flag of ['--data <file>', '--lr <rate>', '--max-steps', '--gradient-accumulation-steps', '--quantization', '--backend']) expect(at(flag)).toBeLessThan(methods);
  // A method's own fields sit under its heading.
  const lora = at('lora, adalora options:');
  expect(at('--use-dora')).toBeGreaterThan(lora);
  expect(at('--megatron-core')).toBeGreaterThan(lora);
  expect(at('--megatron-core')).toBeGreaterThan(methods);
  expect(at('--target-modules')).toBeGreaterThan(methods);
  expect(at('--target-modules')).toBeLessThan(lora);
  expect(at('--n-tasks')).toBeGreaterThan(at('poly options:'));
});
