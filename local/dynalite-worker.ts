import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';

/**
 * dynalite on its own thread: the local DynamoDB then uses the second core while the
 * handlers use the first, as the real service would not share a CPU with its callers.
 */
interface DynaliteWorkerData {
  readonly port: number;
  readonly dataDir?: string;
}

const options = workerData as DynaliteWorkerData;
const server = dynalite({
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
  ...(options.dataDir !== undefined && { path: options.dataDir }),
});

server.once('error', (error) => parentPort?.postMessage({ type: 'error', message: error.message }));
server.listen(options.port, '127.0.0.1', () => {
  parentPort?.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port });
});

parentPort?.on('message', (message: { type: string }) => {
  if (message.type !== 'close') return;
  server.closeAllConnections();
  server.close(() => parentPort?.postMessage({ type: 'closed' }));
});
