/**
 * Request metadata (spec §6): key → values in arrival order. Like Go's ttrpc.MD, keys are kept as
 * sent while lookups lowercase the requested key, so senders should use lowercase keys.
 */
import type { KeyValuePair } from './messages.js';

/** What callers may pass as metadata: pairs, a record (one or more values per key), or a Metadata. */
export type MetadataInit = Iterable<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>> | Metadata;

/** Received (or to-be-sent) metadata pairs. */
export class Metadata {
  private readonly map = new Map<string, string[]>();

  constructor(init?: MetadataInit) {
    if (init === undefined) return;
    if (init instanceof Metadata) {
      for (const [k, vs] of init.map) this.map.set(k, [...vs]);
    } else if (Symbol.iterator in init) {
      for (const [k, v] of init as Iterable<readonly [string, string]>) this.append(k, v);
    } else {
      for (const [k, v] of Object.entries(init as Record<string, string | readonly string[]>)) {
        if (typeof v === 'string') this.append(k, v);
        else for (const one of v) this.append(k, one);
      }
    }
  }

  /** Builds from wire pairs without copying strings. */
  static fromPairs(pairs: readonly KeyValuePair[] | undefined): Metadata {
    const md = new Metadata();
    if (pairs) for (const [k, v] of pairs) md.append(k, v);
    return md;
  }

  /** Adds one value for `key` (stored as given). */
  append(key: string, value: string): void {
    const list = this.map.get(key);
    if (list) list.push(value);
    else this.map.set(key, [value]);
  }

  /** Replaces all values of `key`. */
  set(key: string, ...values: string[]): void {
    this.map.set(key, values);
  }

  /** The first value of the (lowercased) key, or undefined. */
  get(key: string): string | undefined {
    return this.map.get(key.toLowerCase())?.[0];
  }

  /** All values of the (lowercased) key, in arrival order; empty when absent. */
  getAll(key: string): readonly string[] {
    return this.map.get(key.toLowerCase()) ?? [];
  }

  /** Whether the (lowercased) key is present. */
  has(key: string): boolean {
    return this.map.has(key.toLowerCase());
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.map.size;
  }

  /** Every pair in key order of first arrival, then value order. */
  *pairs(): IterableIterator<KeyValuePair> {
    for (const [k, vs] of this.map) for (const v of vs) yield [k, v];
  }

  /** A plain record `key → values`, e.g. for logging. */
  toRecord(): Record<string, string[]> {
    return Object.fromEntries([...this.map].map(([k, vs]) => [k, [...vs]]));
  }
}

/** Flattens any MetadataInit into wire pairs (no Metadata object for the common array case). */
export function metadataPairs(init: MetadataInit | undefined): KeyValuePair[] | undefined {
  if (init === undefined) return undefined;
  if (Array.isArray(init)) return init as KeyValuePair[];
  return [...new Metadata(init).pairs()];
}
