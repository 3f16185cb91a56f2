/** Weft's version: package.json's, set by the bundler (tools/build-cli.mjs); 'dev' when run from sources. */
declare const WEFT_VERSION: string | undefined;
export const VERSION = typeof WEFT_VERSION === 'string' ? WEFT_VERSION : 'dev';
