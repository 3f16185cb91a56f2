export * from './types';
export * from './sequence';
export * from './anomalies';
export { Assembler, DEFAULT_ASSEMBLER_OPTIONS, type AssemblerOptions, type AssemblerStats } from './assembler';
export { StreamPool, Connection } from './stream-pool';
export { HalfConnection, MAX_GAPS_LISTED } from './half-connection';
export { PageCache, PAGE_SIZE } from './page-cache';
export { ScatterGatherBuffer } from './scatter-gather';
