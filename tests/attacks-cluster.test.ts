/**
 * The SPEC rule attacks (tests/attacks.ts) with the attacker on another instance than the one
 * that serves the meeting (one PostgreSQL, one Redis): every rule holds whichever instance a
 * writer is on, and refusals reach the attacker in order through its own instance.
 */
import { attackSuite } from './attacks.js';
import { startCluster } from './setup/cluster.js';

attackSuite(async () => {
  const { servers } = await startCluster(2);
  return { server: servers[0]!, attackerServer: servers[1]! };
});
