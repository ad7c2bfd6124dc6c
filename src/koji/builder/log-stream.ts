// A task log that is written locally and appended to the task's upload dir while the task
// runs, as kojid does with its logs (it uploads new bytes of each log every few seconds), so
// people watching the task in Koji see the build progress.
import { appendFileSync, closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';

import type { KojiSession } from '../session.js';
import { Adler32 } from '../upload.js';

export class StreamedLog {
  private uploaded = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> = Promise.resolve();
  private resync = false;
  /** the last upload error (uploads of the log never fail the task) */
  lastError: Error | undefined;

  constructor(
    readonly localPath: string,
    private readonly session: KojiSession,
    readonly remoteDir: string,
    readonly remoteName: string,
    private readonly intervalMs: number,
  ) {
    writeFileSync(localPath, '');
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  line(text: string): void {
    appendFileSync(this.localPath, `${text}\n`);
  }

  /** Upload what was written since the last flush (serialized; never throws). */
  flush(): Promise<void> {
    this.busy = this.busy.then(() => this.doFlush());
    return this.busy;
  }

  private async doFlush(): Promise<void> {
    try {
      // after an error we do not know what the hub holds: send the whole file again
      if (this.resync) this.uploaded = 0;
      const size = statSync(this.localPath).size;
      if (this.created && !this.resync && size === this.uploaded) return;
      const fd = openSync(this.localPath, 'r');
      try {
        do {
          const len = Math.min(1048576, size - this.uploaded);
          const buf = Buffer.alloc(len);
          if (len > 0) readSync(fd, buf, 0, len, this.uploaded);
          const res = await this.session.rawUpload(buf, {
            filename: this.remoteName,
            filepath: this.remoteDir,
            offset: this.uploaded,
            overwrite: this.uploaded === 0,
          });
          if (res.size !== len || res.hexdigest !== new Adler32().update(buf).hexdigest()) {
            throw new Error(`hub stored ${String(res.size)} bytes with adler32 ${String(res.hexdigest)} for a ${len}-byte log chunk`);
          }
          this.uploaded += len;
          this.created = true;
          this.resync = false;
        } while (this.uploaded < size);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      this.lastError = e as Error;
      this.resync = true;
    }
  }
  private created = false;

  /** Stop the timer and upload the rest. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    if (this.resync) await this.flush();
  }

  /** true when the hub holds the whole log (after close()) */
  get complete(): boolean {
    return this.created && !this.resync;
  }

  get uploadedBytes(): number {
    return this.uploaded;
  }
}
