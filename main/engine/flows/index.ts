export * from './flow';
export { FlagHistory, connState } from './flag-history';
export { FirstBytes, FIRST_BYTES, DETECT_BYTES } from './first-bytes';
export { flowJson } from './flow-json';
