// Reading container log files in the CRI format, which containerd's CRI plugin writes from the
// shim's stdout/stderr: one line per record, `<RFC 3339 nano time> <stdout|stderr> <P|F> <text>`,
// where P marks a partial line (the text continues in the next record of the same stream) and F
// the full/final piece.
import { readFileSync } from 'node:fs';

/** One record of a CRI log file. */
export interface CriLogRecord {
  /** The timestamp as written. */
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** `F` (full) or `P` (partial). */
  readonly tag: 'F' | 'P';
  readonly text: string;
}

/** A log line with the timestamp dropped and partial records joined: what two runs can compare. */
export interface CriLogLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

const RECORD = /^(\S+) (stdout|stderr) (F|P) (.*)$/;

/** Parses a CRI log file's text; throws naming the line when a record is malformed. */
export function parseCriLog(content: string): CriLogRecord[] {
  const records: CriLogRecord[] = [];
  const lines = content.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const m = RECORD.exec(line);
    if (m === null) throw new Error(`CRI log line ${i + 1} is not "<time> <stream> <P|F> <text>": ${JSON.stringify(line)}`);
    const time = m[1]!;
    if (Number.isNaN(Date.parse(time))) throw new Error(`CRI log line ${i + 1} has a bad timestamp ${JSON.stringify(time)}`);
    records.push({ time, stream: m[2] as 'stdout' | 'stderr', tag: m[3] as 'F' | 'P', text: m[4]! });
  });
  return records;
}

/** Joins partial records per stream and drops timestamps; an unterminated partial is kept as is. */
export function criLogLines(records: readonly CriLogRecord[]): CriLogLine[] {
  const out: CriLogLine[] = [];
  const pending: Record<'stdout' | 'stderr', string | undefined> = { stdout: undefined, stderr: undefined };
  for (const r of records) {
    const text = (pending[r.stream] ?? '') + r.text;
    if (r.tag === 'P') {
      pending[r.stream] = text;
    } else {
      pending[r.stream] = undefined;
      out.push({ stream: r.stream, text });
    }
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const rest = pending[stream];
    if (rest !== undefined) out.push({ stream, text: rest });
  }
  return out;
}

/** The lines of one stream, in order (order across streams is not defined by the runtime). */
export function streamLines(lines: readonly CriLogLine[], stream: 'stdout' | 'stderr'): string[] {
  return lines.filter((l) => l.stream === stream).map((l) => l.text);
}

/** Reads and parses a log file; a missing file reads as empty (the CRI plugin creates it lazily). */
export function readCriLog(file: string): CriLogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return criLogLines(parseCriLog(text));
}
