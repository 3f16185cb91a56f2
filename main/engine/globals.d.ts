// The engine runs unchanged in Node, in a worker and in a browser, so it sees no DOM and no Node
// types. These two Web APIs exist in all three; declare just what the engine uses.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
