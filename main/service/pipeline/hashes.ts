/** The HashHost the service lends the engine's flow model: node's sha256. */
import { createHash, hash } from 'node:crypto';
import type { HashHost } from '../../engine/flows';

export const NODE_HASHES: HashHost = {
  sha256: () => createHash('sha256'),
  sha256Hex: (bytes) => hash('sha256', bytes, 'hex'),
};
