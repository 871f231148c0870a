import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The console: a static single-page app. The typed client is shared with the CLI; the one Node
 * modules it names for IAM mode (node:crypto's hashes, the AWS credential chain) are replaced by
 * shims that refuse, and its ids come from Web Crypto, so the very same client code runs here.
 */
export default defineConfig({
  root: here('.'),
  base: './',
  resolve: {
    alias: [
      { find: /^node:crypto$/, replacement: here('src/shims/crypto.ts') },
      { find: /^@aws-sdk\/credential-provider-node$/, replacement: here('src/shims/credentials.ts') },
      { find: /^libra-serverless\/client$/, replacement: here('../client/index.ts') },
    ],
  },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: true,
    // Stable names: the built files are committed and a test rebuilds them to prove they are current.
    rollupOptions: {
      output: {
        entryFileNames: 'assets/console.js',
        chunkFileNames: 'assets/[name].js',
        assetFileNames: 'assets/[name][extname]',
      },
    },
  },
});
