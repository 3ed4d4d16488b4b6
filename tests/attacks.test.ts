/** The SPEC rule attacks (tests/attacks.ts) against one instance. */
import { attackSuite } from './attacks.js';
import { startServer } from './helpers.js';

attackSuite(async () => {
  const server = await startServer();
  return { server, attackerServer: server };
});
