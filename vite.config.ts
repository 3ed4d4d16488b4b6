import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const serverPort = Number(process.env.PORT ?? 3000);

export default defineConfig({
  root: 'client',
  publicDir: 'public',
  plugins: [svelte({ compilerOptions: { css: 'external' } })],
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    // No inline assets: the Content-Security-Policy allows no data: URLs.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': `http://127.0.0.1:${serverPort}`,
      '/socket.io': { target: `ws://127.0.0.1:${serverPort}`, ws: true },
    },
  },
  test: {
    root: '.',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/faults/**', 'node_modules/**'],
          // A throwaway PostgreSQL (and Redis, where installed) for the run: tests/setup/services.ts.
          globalSetup: ['tests/setup/services.ts'],
        },
      },
      {
        // Long fault runs (SIGKILL at many points, full disks): `npm run test:faults`, bounded to minutes.
        extends: true,
        test: {
          name: 'faults',
          include: ['tests/faults/**/*.test.ts'],
          testTimeout: 300_000,
          fileParallelism: false,
          globalSetup: ['tests/setup/services.ts'],
        },
      },
    ],
  },
});
