import { lookup as systemLookup } from 'node:dns';
import { once } from 'node:events';
import net, { type AddressInfo, type LookupFunction } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '#adapters/dynamo-job-store.ts';
import { HttpWebhookSender, localWebhookSecrets } from '#adapters/webhook-sender.ts';
import { newJobId } from '#core/job-record.ts';
import { Notifier, WebhookBlocked, type WebhookResponse } from '#core/webhook.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';
import { SMALL_RESOURCES, SQL_SPEC } from '../support/job-record.ts';

/**
 * The SSRF guard in deployed mode (https only, guard on). Each refused destination must never
 * be connected to, which is proved by counting connections, not by reading error messages:
 *
 * - A loopback jail wraps every socket connect of this test process. Any connection to an
 *   address other than 127.0.0.1 — an IP literal, or what a name resolved to — is redirected
 *   to 127.0.0.1 before it is made, so no packet of this test leaves the machine whatever the
 *   guard does. Every URL below carries the port of a counting server on 127.0.0.1.
 * - So a destination the guard let through, loopback or private, shows up as a connection on
 *   the counting server, which must see none. Two control tests show that it would: the same
 *   send with the guard off (local mode), and a public address with the guard on.
 * - Names resolve through a lookup injected into the sender, never through DNS.
 */

interface ConnectAttempt {
  readonly host: string;
  /** What the name resolved to, before the jail redirected it (names only). */
  readonly resolved: string[];
}

const attempts: ConnectAttempt[] = [];
const originalConnect = net.Socket.prototype.connect;
type Resolved = string | { address: string; family: number }[];
type LookupCallback = (error: Error | null, address?: Resolved, family?: number) => void;

function jailedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
  const first = args[0];
  const options = (Array.isArray(first) ? first[0] : first) as net.TcpNetConnectOpts & {
    path?: string | null;
  };
  if (typeof options !== 'object' || options === null) {
    throw new Error('loopback jail: a connect form this test does not expect; refused');
  }
  // A Unix socket stays on the machine. (http sets `path: null` on TCP connections.)
  if (typeof options.path === 'string' && options.path !== '')
    return originalConnect.apply(this, args as never);
  const host = options.host ?? 'localhost';
  const attempt: ConnectAttempt = { host, resolved: [] };
  attempts.push(attempt);
  if (net.isIP(host) !== 0) {
    if (host !== '127.0.0.1') options.host = '127.0.0.1';
  } else {
    const resolve = (options.lookup ?? systemLookup) as unknown as (
      hostname: string,
      lookupOptions: object,
      callback: LookupCallback,
    ) => void;
    options.lookup = ((hostname: string, lookupOptions: object, callback: LookupCallback) =>
      resolve(hostname, lookupOptions, (error, address) => {
        if (error || address === undefined) return callback(error ?? new Error('no address'));
        if (Array.isArray(address)) {
          attempt.resolved.push(...address.map((entry) => entry.address));
          return callback(
            null,
            address.map(() => ({ address: '127.0.0.1', family: 4 })),
          );
        }
        attempt.resolved.push(address);
        return callback(null, '127.0.0.1', 4);
      })) as unknown as LookupFunction;
  }
  return originalConnect.apply(this, args as never);
}

/** A TCP server on 127.0.0.1 that counts connections and drops them. */
let counter: net.Server;
let port: number;
let connections = 0;

/** Names as the injected lookup answers them; unknown names fail, and DNS is never asked. */
const NAMES: Record<string, { address: string; family: 4 | 6 }[]> = {
  'hooks.example.com': [{ address: '93.184.215.14', family: 4 }],
  'rebind-to-loopback.test': [{ address: '127.0.0.1', family: 4 }],
  'rebind-to-private.test': [{ address: '10.1.2.3', family: 4 }],
  'rebind-to-metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'rebind-to-mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
  'rebind-to-ipv6-loopback.test': [{ address: '::1', family: 6 }],
  'public-and-loopback.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
let lookups: string[] = [];
const injectedLookup = ((
  hostname: string,
  options: { all?: boolean },
  callback: (error: Error | null, address?: Resolved, family?: number) => void,
) => {
  lookups.push(hostname);
  const answers = NAMES[hostname];
  if (!answers) {
    const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return process.nextTick(() => callback(error));
  }
  process.nextTick(() =>
    options.all ? callback(null, answers) : callback(null, answers[0]?.address, answers[0]?.family),
  );
}) as unknown as LookupFunction;

const SECRET = localWebhookSecrets({}).secret;
const deployed = () => new HttpWebhookSender({ lookup: injectedLookup, timeoutMs: 2000 });
const send = (sender: HttpWebhookSender, url: string): Promise<WebhookResponse> =>
  sender.send({ url, id: 'msg_ssrf', timestamp: new Date(), body: '{}', secret: SECRET });

beforeAll(async () => {
  counter = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  counter.listen(0, '127.0.0.1');
  await once(counter, 'listening');
  port = (counter.address() as AddressInfo).port;
  net.Socket.prototype.connect = jailedConnect as typeof net.Socket.prototype.connect;
});
afterAll(async () => {
  net.Socket.prototype.connect = originalConnect;
  await new Promise<void>((resolve) => counter.close(() => resolve()));
});
beforeEach(() => {
  connections = 0;
  attempts.length = 0;
  lookups = [];
});

/** Lets any connection already under way reach the counting server before it is counted. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('the loopback jail and the counter (controls)', () => {
  it('counts a connection to a private address made with the guard off (local mode)', async () => {
    const local = new HttpWebhookSender({
      allowPrivateTargets: true,
      lookup: injectedLookup,
      timeoutMs: 2000,
    });
    const result = await send(local, `http://10.1.2.3:${port}/hook`);
    await settle();
    expect(result.outcome).toBe('failed');
    expect(connections).toBe(1);
    expect(attempts.map((attempt) => attempt.host)).toEqual(['10.1.2.3']);
  });

  it('counts a connection to a public address with the guard on: the guard does not refuse everything', async () => {
    const result = await send(deployed(), `https://hooks.example.com:${port}/hook`);
    await settle();
    // The counter is not a TLS server: the handshake fails, which is a failure, not a refusal.
    expect(result.outcome).toBe('failed');
    expect(connections).toBe(1);
    expect(lookups).toEqual(['hooks.example.com']);
    expect(attempts).toEqual([{ host: 'hooks.example.com', resolved: ['93.184.215.14'] }]);
  });
});

describe('deployed mode never connects to a non-public address', () => {
  const literals: [string, string][] = [
    ['loopback', '127.0.0.1'],
    ['loopback, elsewhere in 127/8', '127.1.2.3'],
    ['IPv6 loopback', '[::1]'],
    ['private 10/8', '10.0.0.1'],
    ['private 172.16/12', '172.16.0.1'],
    ['private 172.16/12, top', '172.31.255.254'],
    ['private 192.168/16', '192.168.1.1'],
    ['unique local fc00::/7', '[fc00::1]'],
    ['unique local fd00::/8', '[fd12:3456:789a::1]'],
    ['carrier-grade NAT', '100.64.0.1'],
    ['link-local', '169.254.1.1'],
    ['IPv6 link-local', '[fe80::1]'],
    ['metadata', '169.254.169.254'],
    ['metadata over IPv6', '[fd00:ec2::254]'],
    ['IPv4-mapped loopback', '[::ffff:127.0.0.1]'],
    ['IPv4-mapped metadata', '[::ffff:169.254.169.254]'],
    ['IPv4-mapped private', '[::ffff:10.0.0.1]'],
    ['NAT64 of loopback', '[64:ff9b::7f00:1]'],
    ['decimal loopback', '2130706433'],
    ['decimal metadata', '2852039166'],
    ['hex loopback', '0x7f.1'],
    ['hex loopback, one number', '0x7f000001'],
    ['hex metadata', '0xA9FEA9FE'],
    ['octal loopback', '017700000001'],
    ['octal loopback, dotted', '0177.0.0.1'],
    ['unspecified', '0.0.0.0'],
    ['unspecified, short', '0'],
    ['IPv6 unspecified', '[::]'],
  ];

  it.each(literals)('%s: https://%s is refused with no socket opened', async (_kind, host) => {
    const result = await send(deployed(), `https://${host}:${port}/hook`);
    await settle();
    expect(result).toMatchObject({ outcome: 'refused', error: 'the destination is not a public address' });
    expect(connections).toBe(0);
    expect(attempts).toEqual([]);
  });

  const names: [string, string, string[]][] = [
    ['localhost, from the system resolver', 'localhost', []],
    ['a name resolving to loopback', 'rebind-to-loopback.test', ['rebind-to-loopback.test']],
    ['a name resolving to IPv6 loopback', 'rebind-to-ipv6-loopback.test', ['rebind-to-ipv6-loopback.test']],
    ['a name resolving to a private address', 'rebind-to-private.test', ['rebind-to-private.test']],
    ['a name resolving to the metadata address', 'rebind-to-metadata.test', ['rebind-to-metadata.test']],
    ['a name resolving to IPv4-mapped loopback', 'rebind-to-mapped.test', ['rebind-to-mapped.test']],
    ['a name with a public and a loopback address', 'public-and-loopback.test', ['public-and-loopback.test']],
  ];

  it.each(names)('%s (%s) is refused at connect time, after resolution', async (_kind, name, resolved) => {
    const sender = name === 'localhost' ? new HttpWebhookSender({ timeoutMs: 2000 }) : deployed();
    const result = await send(sender, `https://${name}:${port}/hook`);
    await settle();
    expect(result).toMatchObject({ outcome: 'refused', error: 'the destination is not a public address' });
    expect(connections).toBe(0);
    // The socket asked for the name, the guard refused what it resolved to: nothing got through.
    expect(attempts).toEqual([{ host: name, resolved: [] }]);
    expect(lookups).toEqual(resolved);
  });

  it('resolves again for every connection: a name that rebinds to loopback is refused the next time', async () => {
    let answer = '93.184.215.14';
    const rebinding = ((_hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
      lookups.push(answer);
      const address = answer;
      process.nextTick(() =>
        options.all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4),
      );
    }) as unknown as LookupFunction;
    const sender = new HttpWebhookSender({ lookup: rebinding, timeoutMs: 2000 });

    expect((await send(sender, `https://rebinding.test:${port}/hook`)).outcome).toBe('failed');
    await settle();
    expect(connections).toBe(1);
    answer = '127.0.0.1';
    expect((await send(sender, `https://rebinding.test:${port}/hook`)).outcome).toBe('refused');
    await settle();
    expect(connections).toBe(1);
    // One resolution per connection, and the address checked is the address connected to.
    expect(lookups).toEqual(['93.184.215.14', '127.0.0.1']);
    expect(attempts.map((attempt) => attempt.resolved)).toEqual([['93.184.215.14'], []]);
  });

  it('refuses plain http, even to a public address, without resolving it', async () => {
    const result = await send(deployed(), `http://hooks.example.com:${port}/hook`);
    expect(result).toMatchObject({ outcome: 'refused', error: 'webhooks must use https' });
    expect(lookups).toEqual([]);
    expect(attempts).toEqual([]);
  });
});

describe('the notifier with the guard on', () => {
  let db: TestDatabase;
  let store: DynamoJobStore;
  beforeAll(async () => {
    db = await startTestDatabase();
    store = new DynamoJobStore({ client: db.documentClient, tableName: db.tableName, retentionDays: 90 });
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('records a refused destination and throws WebhookBlocked, which the workflow does not retry', async () => {
    const jobId = newJobId();
    const now = new Date().toISOString();
    await store.createJob({
      jobId,
      owner: 'alice',
      status: 'QUEUED',
      pool: 'default',
      backend: 'emr-serverless',
      priority: 5,
      tags: {},
      spec: {
        ...SQL_SPEC,
        notifications: { webhook: `https://169.254.169.254:${port}/latest/meta-data/`, events: ['QUEUED'] },
      },
      resources: SMALL_RESOURCES,
      reservation: { cpuCores: 1, memoryMiB: 1024 },
      attempts: 0,
      submittedAt: now,
      queuedAt: now,
      updatedAt: now,
      requestHash: 'test',
    });
    const notifier = new Notifier({
      jobs: store,
      sender: deployed(),
      secrets: { secretFor: async () => SECRET },
      clock: () => new Date(),
      logger: new Logger({ serviceName: 'libra-test', logLevel: 'SILENT' }),
    });

    const error = await notifier.notify(jobId, 'QUEUED').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(WebhookBlocked);
    expect((error as Error).name).toBe('WebhookBlocked');
    await settle();
    expect(connections).toBe(0);
    const history = await store.listEvents(jobId);
    expect(history).toMatchObject([
      { type: 'WEBHOOK', status: 'QUEUED', detail: { outcome: 'blocked', attempt: 1 } },
    ]);
    // The owner reads the history: it says the address was refused, not what it resolved to.
    expect(JSON.stringify(history)).not.toContain('169.254');
  });
});
