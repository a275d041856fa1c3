/**
 * Filters repo file paths with shell-style patterns, as huggingface_hub's `allow_patterns` /
 * `ignore_patterns` do (Python `fnmatch`: `*` also matches `/`; `?`; `[abc]`, `[!abc]`).
 * A pattern ending in `/` matches everything below that folder.
 */
export function createPathFilter(allowPatterns?: string | readonly string[], ignorePatterns?: string | readonly string[]): (path: string) => boolean {
  const allow = toRegExps(allowPatterns);
  const ignore = toRegExps(ignorePatterns);
  return (path) => (allow === undefined || allow.some((pattern) => pattern.test(path))) && !(ignore ?? []).some((pattern) => pattern.test(path));
}

function toRegExps(patterns: string | readonly string[] | undefined): RegExp[] | undefined {
  if (patterns === undefined) {
    return undefined;
  }
  return (typeof patterns === 'string' ? [patterns] : patterns).map((pattern) => fnmatchToRegExp(pattern.endsWith('/') ? `${pattern}*` : pattern));
}

export function fnmatchToRegExp(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const character = pattern[index];
    if (character === '*') {
      source += '.*';
    } else if (character === '?') {
      source += '.';
    } else if (character === '[') {
      let end = index + 1;
      if (pattern[end] === '!') {
        end++;
      }
      if (pattern[end] === ']') {
        end++;
      }
      while (end < pattern.length && pattern[end] !== ']') {
        end++;
      }
      if (end >= pattern.length) {
        source += '\\[';
      } else {
        let content = pattern.slice(index + 1, end).replace(/\\/g, '\\\\');
        if (content.startsWith('!')) {
          content = `^${content.slice(1)}`;
        } else if (content.startsWith('^')) {
          content = `\\${content}`;
        }
        source += `[${content}]`;
        index = end;
      }
    } else {
      source += character.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^(?:${source})$`, 's');
}
