/** Start Polyphony on its embedded defaults. SIGTERM/SIGINT flush every pending write first. */
import { createApp } from './app.js';
import { configFromEnv } from './config.js';
import { consoleLog } from './context.js';

const config = configFromEnv();
const app = await createApp({ config });
const url = await app.listen();
consoleLog.info({ url, dataDir: config.dataDir, publicUrl: config.publicUrl }, 'Polyphony is listening');
process.stdout.write(`\n  Polyphony is running: ${config.publicUrl}\n\n`);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    consoleLog.info({ signal }, 'flushing and stopping');
    const force = setTimeout(() => {
      consoleLog.error({}, 'could not flush within 10 s; stopping anyway (unsaved edits stay on the devices)');
      process.exit(1);
    }, 10_000);
    void app.close().then(() => {
      clearTimeout(force);
      process.exit(0);
    });
  });
}
