// Builds the operator console (web/) into web/dist, which the BFF serves at `/` with the API under
// `/api` on the same origin. `node scripts/build-web.js` runs this build only when sources changed.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type ProxyOptions } from 'vite';

const webRoot = fileURLToPath(new URL('./web', import.meta.url));
const outDir = fileURLToPath(new URL('./web/dist', import.meta.url));

/** The BFF during development (`npm start`); its certificate comes from a local CA, hence secure: false. */
const DEV_API_TARGET = 'https://localhost:8443';

/**
 * `/api` (REST and the terminal WebSocket) goes to the BFF. The BFF checks `Origin` on
 * state-changing requests and WebSocket upgrades; behind this dev proxy the page's origin is
 * Vite's, so the proxy presents the BFF's own origin instead. Development only.
 */
const apiProxy: ProxyOptions = {
  target: DEV_API_TARGET,
  secure: false,
  ws: true,
  configure: (proxy) => {
    proxy.on('proxyReq', (req) => {
      if (req.getHeader('origin') !== undefined) req.setHeader('origin', DEV_API_TARGET);
    });
    proxy.on('proxyReqWs', (req) => {
      req.setHeader('origin', DEV_API_TARGET);
    });
  },
};

export default defineConfig({
  root: webRoot,
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // xterm.js alone is ~300 KB; it sits in the lazily loaded terminal chunk.
    chunkSizeWarningLimit: 600,
  },
  server: { proxy: { '/api': apiProxy } },
  preview: { proxy: { '/api': apiProxy } },
});
