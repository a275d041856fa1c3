import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import { downloadRepo, pushFolderToHub } from '@peftjs/hub';
import type { CliIo } from '../cli-io';
import { collect, commonOptions, option } from '../util/options';
import { UsageError } from '../util/usage-error';

export function pushCommand(io: CliIo): Command {
  const command = summarizedCommand('push');
  option(command, '--private', 'create the repo as private', false);
  option(command, '--commit-message <text>', 'commit title', 'Upload folder using peftjs');
  option(command, '--revision <branch>', 'branch to commit to', 'main');
  option(command, '--path-in-repo <path>', 'folder inside the repo', undefined, { defaultText: 'the root' });
  option(command, '--token <token>', 'Hub token', undefined, { defaultText: '$HF_TOKEN or the saved login' });
  option(command, '--json', 'print the result as JSON', false);
  commonOptions(command);
  command.action(async (dir: string, repo: string, options: Record<string, any>) => {
    if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new UsageError(`${dir} is not a folder`);
    const result = await pushFolderToHub(dir, repo, {
      private: options.private,
      commitMessage: options.commitMessage,
      revision: options.revision,
      ...(options.pathInRepo ? { pathInRepo: options.pathInRepo } : {}),
      ...(options.token ? { token: options.token } : {}),
    });
    if (options.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(`pushed ${result.files.length} files to ${result.repoId} at ${result.commit}\n${result.commitUrl}\n`);
  });
  return command;
}

export function pullCommand(io: CliIo): Command {
  const command = summarizedCommand('pull');
  option(command, '--revision <rev>', 'branch, tag or commit', 'main');
  option(command, '--include <pattern>', 'only files matching (repeatable)', undefined, { parse: collect, defaultText: 'every file' });
  option(command, '--token <token>', 'Hub token', undefined, { defaultText: '$HF_TOKEN or the saved login' });
  option(command, '--json', 'print {"folder", "commit", "files"}', false);
  commonOptions(command);
  command.action(async (repo: string, options: Record<string, any>) => {
    const snapshot = await downloadRepo(repo, {
      revision: options.revision,
      ...(options.include ? { allowPatterns: options.include } : {}),
      ...(options.token ? { token: options.token } : {}),
    });
    if (options.json) io.stdout(`${JSON.stringify({ folder: snapshot.folder, commit: snapshot.commit, files: snapshot.files, fromCache: snapshot.fromCache })}\n`);
    else io.stdout(`${snapshot.folder}\n`);
    io.stderr(`${repo}@${snapshot.commit.slice(0, 12)}: ${snapshot.files.length} files${snapshot.fromCache ? ' (from the cache)' : ''}\n`);
  });
  return command;
}
