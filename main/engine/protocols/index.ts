export * from './types';
export { httpPlugin } from './http';
