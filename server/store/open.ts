/** Which store a server runs on: PostgreSQL when `DATABASE_URL` is set, else the embedded store in `DATA_DIR`. */
import type { Config } from '../config.js';
import { FileStore } from './fileStore.js';
import { PgStore } from './pgStore.js';
import type { Store } from './types.js';

export async function openStore(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<Store> {
  if (config.databaseUrl) return PgStore.open({ connectionString: config.databaseUrl });
  return FileStore.open(config.dataDir);
}
