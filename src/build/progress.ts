// Progress for `kiln build`: a live display on a terminal (pipeline, stage, downloads with bytes
// and rate), plain timestamped lines otherwise. Both read the executor's events; neither decides
// anything about the build.
import type { ExecutorEvent } from '../executor/events.js';
import { formatEvent } from '../executor/log.js';

export type ProgressMode = 'auto' | 'term' | 'verbose';

export interface ProgressSink {
  event(e: ExecutorEvent): void;
  /** a line of Kiln's own (depsolve, renames...) */
  line(msg: string): void;
  /** leave the terminal clean (called on success and on failure) */
  close(): void;
}

/** auto -> term when stderr is a terminal with a size, verbose otherwise (as upstream). */
export function resolveMode(mode: ProgressMode, verbose: boolean, stream: NodeJS.WriteStream = process.stderr): 'term' | 'verbose' {
  if (mode !== 'auto') return mode;
  if (verbose) return 'verbose';
  return stream.isTTY && (stream.columns ?? 0) > 0 ? 'term' : 'verbose';
}

function stamp(): string {
  return new Date().toISOString().slice(11, 19);
}

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Plain lines: one per meaningful event, each with a UTC time. */
export class LineProgress implements ProgressSink {
  constructor(private readonly out: (s: string) => void = (s) => process.stderr.write(s)) {}
  event(e: ExecutorEvent): void {
    const text = formatEvent(e);
    if (text !== undefined) this.out(`${stamp()} ${text}\n`);
  }
  line(msg: string): void {
    this.out(`${stamp()} ${msg}\n`);
  }
  close(): void {}
}

/**
 * A status block redrawn in place: the current pipeline and stage, and while sources download,
 * bytes so far and the rate. Finished pipelines scroll above it as ordinary lines.
 */
export class TermProgress implements ProgressSink {
  private pipeline = '';
  private stage = '';
  private downloads = { items: 0, done: 0, bytes: 0, started: 0 };
  private readonly perItem = new Map<string, number>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private spin = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  private clear(): void {
    if (this.drawn > 0) this.stream.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const spinner = '|/-\\'[this.spin++ % 4];
    const lines: string[] = [];
    if (this.downloads.items > 0 && this.downloads.done < this.downloads.items) {
      const secs = Math.max(0.001, (Date.now() - this.downloads.started) / 1000);
      lines.push(
        `${spinner} sources: ${this.downloads.done}/${this.downloads.items} items, ${humanBytes(this.downloads.bytes)} at ${humanBytes(this.downloads.bytes / secs)}/s`,
      );
    }
    if (this.pipeline) lines.push(`${spinner} pipeline ${this.pipeline}${this.stage ? `: ${this.stage}` : ''}`);
    this.clear();
    for (const l of lines) this.stream.write(l.slice(0, width) + '\n');
    this.drawn = lines.length;
  }

  private print(text: string): void {
    this.clear();
    this.stream.write(text + '\n');
    this.draw();
  }

  event(e: ExecutorEvent): void {
    switch (e.type) {
      case 'sources-start':
        this.downloads = { items: e.items, done: 0, bytes: 0, started: Date.now() };
        break;
      case 'download-progress': {
        const prev = this.perItem.get(e.item) ?? 0;
        this.downloads.bytes += Math.max(0, e.bytes - prev);
        this.perItem.set(e.item, e.bytes);
        break;
      }
      case 'download-finish':
        this.downloads.done++;
        break;
      case 'sources-finish':
        this.downloads.items = 0;
        this.print(formatEvent(e) ?? '');
        break;
      case 'pipeline-start':
        this.pipeline = e.pipeline;
        this.stage = '';
        break;
      case 'stage-start':
        this.stage = `stage ${e.index + 1} ${e.stage.replace(/^org\.osbuild\./, '')}`;
        break;
      case 'pipeline-finish':
      case 'pipeline-skip':
      case 'buildroot':
      case 'download-retry':
      case 'export':
        this.print(formatEvent(e) ?? '');
        if (e.type === 'pipeline-finish') this.pipeline = this.stage = '';
        break;
      default:
        break;
    }
  }

  line(msg: string): void {
    this.print(msg);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }
}

export function createProgress(mode: 'term' | 'verbose'): ProgressSink {
  return mode === 'term' ? new TermProgress() : new LineProgress();
}
