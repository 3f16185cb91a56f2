export * from './errors';
export * from './types';
export * from './reader';
export * from './pcap';
export * from './pcapng';
export * from './writers';
export * from './linktypes';
export { maxRecordFor, MAX_BLOCK_LENGTH } from './limits';
