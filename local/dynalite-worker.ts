import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';
import { installConditionCheckItems } from './dynalite-condition-items.ts';

/**
 * dynalite on its own thread: the local DynamoDB then uses the second core while the
 * handlers use the first, as the real service would not share a CPU with its callers.
 */
interface DynaliteWorkerData {
  readonly port: number;
  readonly dataDir?: string;
  /** Where the runtime's own clients send requests without going through HTTP. */
  readonly requests: MessagePort;
}

/** A request from the runtime's clients: what an HTTP request to dynalite would carry. */
export interface PortRequest {
  readonly id: number;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface PortResponse {
  readonly id: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const options = workerData as DynaliteWorkerData;
installConditionCheckItems();
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

/**
 * The runtime's own clients skip TCP and HTTP parsing on both threads: dynalite's request
 * handler gets a request and a response that carry only what it reads and writes.
 */
const handle = server.listeners('request')[0] as (request: unknown, response: unknown) => void;
options.requests.on('message', (message: PortRequest) => {
  const request = Object.assign(new EventEmitter(), {
    method: message.method,
    url: '/',
    headers: message.headers,
  });
  const headers: Record<string, string> = {};
  const response = {
    statusCode: 200,
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    end(body?: string | Buffer) {
      const reply: PortResponse = {
        id: message.id,
        statusCode: response.statusCode,
        headers,
        body: body === undefined ? '' : body.toString(),
      };
      options.requests.postMessage(reply);
    },
  };
  handle(request, response);
  request.emit('data', Buffer.from(message.body));
  request.emit('end');
});

parentPort?.on('message', (message: { type: string }) => {
  if (message.type !== 'close') return;
  server.closeAllConnections();
  options.requests.close();
  server.close(() => parentPort?.postMessage({ type: 'closed' }));
});
