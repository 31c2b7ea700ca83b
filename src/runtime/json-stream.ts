/**
 * Splitting a byte stream of concatenated JSON objects (`events` output, runsc's log) into values
 * without relying on newlines.
 */

/** Incremental splitter: feed text, get every complete top-level `{…}` value parsed. */
export class JsonObjectStream {
  private buffer = '';

  /** Adds text; returns the objects completed by it. Throws SyntaxError on non-object garbage. */
  push(text: string): unknown[] {
    this.buffer += text;
    const values: unknown[] = [];
    let i = 0;
    const s = this.buffer;
    for (;;) {
      while (i < s.length && /\s/.test(s[i]!)) i++;
      if (i >= s.length) break;
      if (s[i] !== '{') throw new SyntaxError(`invalid character ${JSON.stringify(s[i])} looking for beginning of value`);
      const end = objectEnd(s, i);
      if (end < 0) break;
      values.push(JSON.parse(s.slice(i, end + 1)));
      i = end + 1;
    }
    this.buffer = s.slice(i);
    return values;
  }

  /** Text of an incomplete value still buffered. */
  get pending(): string {
    return this.buffer;
  }
}

/** Index of the `}` closing the object that starts at `start`, or −1 if it is not complete yet. */
export function objectEnd(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let j = start; j < s.length; j++) {
    const c = s[j]!;
    if (inString) {
      if (c === '\\') j++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return j;
  }
  return -1;
}
