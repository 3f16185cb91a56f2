// The engine runs unchanged in Node, in a worker and in a browser, so it sees no DOM and no Node
// types. These two Web APIs exist in all three; declare just what the engine uses.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

// WHATWG streams (global in Node ≥ 18 and browsers): the subset the engine's reader streams use.
interface ReadableStreamDefaultController<R> {
  readonly desiredSize: number | null;
  enqueue(chunk: R): void;
  close(): void;
  error(e?: unknown): void;
}
interface UnderlyingDefaultSource<R> {
  start?(controller: ReadableStreamDefaultController<R>): void;
  pull?(controller: ReadableStreamDefaultController<R>): void | Promise<void>;
  cancel?(reason?: unknown): void;
}
interface QueuingStrategy<R> {
  highWaterMark?: number;
  size?(chunk: R): number;
}
interface ReadableStreamReadResult<R> {
  done: boolean;
  value?: R;
}
interface ReadableStreamDefaultReader<R> {
  read(): Promise<ReadableStreamReadResult<R>>;
  releaseLock(): void;
}
declare class ReadableStream<R> {
  constructor(source?: UnderlyingDefaultSource<R>, strategy?: QueuingStrategy<R>);
  getReader(): ReadableStreamDefaultReader<R>;
  readonly locked: boolean;
}
