import { Command, Option } from 'commander';
import { BACKEND_NAMES } from '@peftjs/runtime';
import { UsageError } from './usage-error';

/**
 * Adds an option whose help line always states its default: the value when there is one,
 * "none" when it is optional and unset, "required" when it must be given.
 */
export function option(
  command: Command,
  flags: string,
  description: string,
  defaultValue?: unknown,
  extra: { required?: boolean; choices?: string[]; parse?: (value: string, previous: any) => unknown; defaultText?: string; group?: string } = {},
): Command {
  const entry = new Option(flags, description);
  if (extra.group) entry.helpGroup(extra.group);
  if (extra.choices) entry.choices(extra.choices);
  if (extra.parse) entry.argParser(extra.parse);
  if (extra.required) {
    entry.makeOptionMandatory(true);
    entry.description = `${description} (required)`;
  } else if (defaultValue !== undefined) entry.default(defaultValue, extra.defaultText);
  else entry.description = `${description} (default: ${extra.defaultText ?? 'none'})`;
  return command.addOption(entry);
}

export function integer(flag: string, minimum = 0): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < minimum) throw new UsageError(`${flag} must be an integer ≥ ${minimum}, got "${value}"`);
    return number;
  };
}

export function float(flag: string, check: (value: number) => boolean = Number.isFinite, expected = 'a number'): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || !check(number)) throw new UsageError(`${flag} must be ${expected}, got "${value}"`);
    return number;
  };
}

export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds the options every command takes: --backend, --verbose, --plugin. */
export function commonOptions(command: Command): Command {
  option(command, '--backend <name>', `TF.js backend: ${['auto', ...BACKEND_NAMES].join(', ')} (else PEFTJS_BACKEND, else the best installed)`, undefined, {
    defaultText: '$PEFTJS_BACKEND or auto',
  });
  option(command, '--plugin <module>', 'load a third-party tuner package or file (repeatable)', undefined, { parse: collect });
  option(command, '--verbose', 'print stack traces and backend details', false);
  return command;
}
