/**
 * `JSON.parse` silently keeps the last of two equal keys. This scans JSON text that has already
 * parsed successfully and returns the first key that appears twice in the same object (at any
 * depth, after unescaping), with the path of that object, or undefined.
 *
 * Iterative (no recursion), so deeply nested hostile input cannot overflow the stack.
 */
export function findDuplicateKey(text: string): { key: string; path: readonly string[] } | undefined {
  // One frame per open container: a Set of seen keys for an object, undefined for an array.
  const frames: Array<Set<string> | undefined> = [];
  // The key under which each open container sits (for the error message); root is ''.
  const path: string[] = [];
  let pendingKey = '';
  let index = 0;
  const length = text.length;
  while (index < length) {
    const character = text.charCodeAt(index);
    if (character === 0x22 /* " */) {
      const start = index;
      index++;
      let hasEscape = false;
      while (index < length) {
        const inner = text.charCodeAt(index);
        if (inner === 0x5c /* \ */) {
          hasEscape = true;
          index += 2;
          continue;
        }
        if (inner === 0x22) {
          break;
        }
        index++;
      }
      const raw = text.slice(start, index + 1);
      index++;
      let next = index;
      while (next < length && isWhitespace(text.charCodeAt(next))) {
        next++;
      }
      const frame = frames[frames.length - 1];
      if (text.charCodeAt(next) === 0x3a /* : */ && frame !== undefined) {
        const key = hasEscape ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (frame.has(key)) {
          return { key, path: path.slice(1) };
        }
        frame.add(key);
        pendingKey = key;
      }
      continue;
    }
    if (character === 0x7b /* { */) {
      frames.push(new Set());
      path.push(pendingKey);
    } else if (character === 0x5b /* [ */) {
      frames.push(undefined);
      path.push(pendingKey);
    } else if (character === 0x7d /* } */ || character === 0x5d /* ] */) {
      frames.pop();
      path.pop();
    }
    index++;
  }
  return undefined;
}

function isWhitespace(character: number): boolean {
  return character === 0x20 || character === 0x09 || character === 0x0a || character === 0x0d;
}
