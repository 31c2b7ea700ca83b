#!/usr/bin/env node
// Compares two V8 heap snapshots (.heapsnapshot, e.g. the shim daemon's before and after a churn,
// see src/shim/memory-debug.ts) by constructor: how many objects and how many bytes of each kind
// the second has more than the first. A leak shows as a count that grows with the churn.
//
//   node scripts/heap-diff.mjs before.heapsnapshot after.heapsnapshot [--top 40] [--per N]
//
// --per N divides the differences by N (the number of containers between the snapshots).
import { readFileSync } from 'node:fs';

/** `type:name` → { count, bytes } over every node of one snapshot. */
function census(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const { nodes, strings } = snap;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are named by their content; group them by type alone.
    const name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' ? strings[nodes[i + nameAt]] : '';
    const key = `${type}:${name.length > 80 ? `${name.slice(0, 77)}...` : name}`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += nodes[i + sizeAt];
    out.set(key, e);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.filter((a, i) => !a.startsWith('--') && !(args[i - 1] ?? '').startsWith('--'));
const opt = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : fallback; };
if (files.length !== 2) {
  console.error('usage: heap-diff.mjs before.heapsnapshot after.heapsnapshot [--top 40] [--per N]');
  process.exit(2);
}
const top = opt('--top', 40);
const per = opt('--per', 1);
const [a, b] = files.map(census);
const rows = [];
for (const key of new Set([...a.keys(), ...b.keys()])) {
  const x = a.get(key) ?? { count: 0, bytes: 0 };
  const y = b.get(key) ?? { count: 0, bytes: 0 };
  if (x.count !== y.count || x.bytes !== y.bytes) rows.push({ key, count: y.count - x.count, bytes: y.bytes - x.bytes, after: y.count });
}
rows.sort((p, q) => Math.abs(q.bytes) - Math.abs(p.bytes));
const total = (m) => [...m.values()].reduce((s, e) => s + e.bytes, 0);
console.log(`total self size: ${total(a)} → ${total(b)} bytes (${((total(b) - total(a)) / per / 1024).toFixed(2)} KiB per unit)`);
console.log(['count diff', 'bytes diff', 'count after', 'type:constructor'].join('\t'));
for (const r of rows.slice(0, top)) {
  const f = (v) => (per === 1 ? String(v) : (v / per).toFixed(2));
  console.log([f(r.count), f(r.bytes), r.after, r.key].join('\t'));
}
