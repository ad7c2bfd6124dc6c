// Progress events from the executor, delivered through `onEvent`. Durations are milliseconds.
export type ExecutorEvent =
  | { type: 'log'; message: string; pipeline?: string; stage?: string }
  | { type: 'buildroot'; pipeline: string; mode: 'bwrap' | 'host' | 'host-first'; message: string }
  | { type: 'sources-start'; items: number }
  | { type: 'download-start'; source: string; item: string; url: string }
  | { type: 'download-progress'; source: string; item: string; url: string; bytes: number; total?: number }
  | { type: 'download-retry'; source: string; item: string; url: string; attempt: number; error: string; delayMs: number }
  | { type: 'download-finish'; source: string; item: string; bytes: number; cached: boolean; duration: number }
  | { type: 'sources-finish'; items: number; downloaded: number; bytes: number; duration: number }
  | { type: 'pipeline-skip'; pipeline: string; id: string | null; reason: 'cached' | 'not-needed' }
  | { type: 'pipeline-start'; pipeline: string; id: string | null; resumeFrom?: number }
  | { type: 'pipeline-finish'; pipeline: string; id: string | null; duration: number; committed: boolean }
  | { type: 'stage-start'; pipeline: string; stage: string; index: number; id: string }
  | { type: 'stage-output'; pipeline: string; stage: string; index: number; text: string }
  | { type: 'stage-finish'; pipeline: string; stage: string; index: number; id: string; duration: number }
  | { type: 'checkpoint'; pipeline: string; stage: string; id: string }
  | { type: 'export'; pipeline: string; path: string };

export type EventSink = (e: ExecutorEvent) => void;
