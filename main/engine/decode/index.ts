export * from './anomalies';
export * from './layers';
export * from './decoder';
export * from './defrag';
export * from './addr';
export { decodeTcp } from './tcp';
