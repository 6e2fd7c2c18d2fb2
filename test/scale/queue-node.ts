// Child process for the multi-node queue test: one Pigeon queue worker ("node B") on the
// PostgreSQL store at URL, delivering through the smarthost 127.0.0.1:PORT, with a short lease.
// Prints "ready" once its worker runs; the test kills it with SIGKILL mid-delivery.
import { openStore } from '../../src/store/open.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startQueueWorker } from '../../src/queue/worker.js';

const [url, port, leaseMs, hostname] = process.argv.slice(2);
const config = buildConfig({ hostname: hostname!, data_dir: '/nonexistent', store: { driver: 'postgres', url }, queue: { smarthost: `127.0.0.1:${port}`, smarthost_tls: 'none' } }, { env: {} });
const store = await openStore({ driver: 'postgres', url: url!, dataDir: '/nonexistent' });
const worker = await startQueueWorker({ config, store, logger: silentLogger(), leaseMs: Number(leaseMs), pollMs: 200 });
worker.kick();
process.stdout.write('ready\n');
