/** Start Polyphony on its embedded defaults. SIGTERM/SIGINT flush every pending write first. */
import { createApp, type App } from './app.js';
import { configFromEnv } from './config.js';
import { jsonLog } from './context.js';
import { DamagedError } from './store/types.js';

const config = configFromEnv();
const consoleLog = jsonLog({ instance: config.instance });
let app: App;
try {
  app = await createApp({ config, log: consoleLog });
} catch (e) {
  if (e instanceof DamagedError) {
    consoleLog.error({ file: e.file, reason: e.reason }, 'storage is damaged; not starting');
    process.stderr.write(
      `\n  Polyphony did not start: ${e.file} is damaged (${e.reason}).\n` +
        `  Nothing was changed. Restore it from a backup or repair it, then start again.\n\n`,
    );
    process.exit(2);
  }
  // A configuration the server cannot run with (REDIS_URL without DATABASE_URL, an unreachable
  // database or Redis): said plainly, nothing changed.
  consoleLog.error({ err: (e as Error).message }, 'not starting');
  process.stderr.write(`\n  Polyphony did not start: ${(e as Error).message}.\n\n`);
  process.exit(2);
}
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
