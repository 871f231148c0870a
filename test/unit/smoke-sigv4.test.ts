import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LibraClient } from '../../bin/smoke/client.ts';
import { LibraClient as TypedClient } from '../../client/index.ts';
import { regionOfEndpoint, type SigningCredentials, signRequest } from '../../client/sigv4.ts';

/**
 * The smoke's SigV4 signer against AWS's own implementation: botocore's SigV4Auth signs the same
 * request with the same credentials at the same instant, and the two must agree header for header.
 */

interface BotocoreCase {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly region: string;
  readonly credentials: SigningCredentials;
  /** The signing instant, as x-amz-date writes it. */
  readonly amzDate: string;
}

const BOTOCORE_SIGNS = `
import datetime, json, sys
try:
    import botocore.auth as auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError as error:
    sys.exit('botocore is needed to check the SigV4 signer: ' + str(error))
out = []
for case in json.load(sys.stdin):
    instant = datetime.datetime.strptime(case['amzDate'], '%Y%m%dT%H%M%SZ')
    auth.get_current_datetime = lambda: instant
    request = AWSRequest(method=case['method'], url=case['url'], headers=case['headers'], data=case.get('body'))
    creds = case['credentials']
    auth.SigV4Auth(Credentials(creds['accessKeyId'], creds['secretAccessKey'], creds.get('sessionToken')),
                   'execute-api', case['region']).add_auth(request)
    out.append({k.lower(): v for k, v in request.headers.items()})
print(json.dumps(out))
`;

/** What botocore's SigV4Auth adds to each request; fails in one line when python3 or botocore is missing. */
function botocoreSigns(cases: readonly BotocoreCase[]): Record<string, string>[] {
  try {
    return JSON.parse(
      execFileSync('python3', ['-c', BOTOCORE_SIGNS], { input: JSON.stringify(cases) }).toString(),
    );
  } catch (error) {
    const failure = error as Error & { stderr?: Buffer };
    throw new Error(
      `python3 with botocore is needed to check the SigV4 signer: ${failure.stderr?.toString().trim() || failure.message}`,
    );
  }
}

const TEMPORARY: SigningCredentials = {
  accessKeyId: 'ASIAEXAMPLEKEYID0001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+token=',
};
const LONG_TERM: SigningCredentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
};
const AT = new Date('2026-01-02T03:04:05.000Z');
const AMZ_DATE = '20260102T030405Z';

const API = 'https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com';

const REQUESTS: readonly Omit<BotocoreCase, 'amzDate' | 'region'>[] = [
  {
    method: 'POST',
    url: `${API}/api/v1/spark/jobs/submit`,
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      'idempotency-key': 'nightly-2025-01-01',
    },
    body: JSON.stringify({ code: 'SELECT 1', kind: 'sql', tags: { team: 'data ü' } }),
    credentials: TEMPORARY,
  },
  {
    method: 'GET',
    // Values that need encoding: '=' in a tag filter, '+' and '/' in a page token, a space.
    url: `${API}/api/v1/spark/jobs?tag=team%3Ddata&status=SUCCEEDED&nextToken=eyJh%2Bb%2Fc%3D%3D&limit=20&owner=a%20b`,
    headers: { accept: 'application/json' },
    credentials: LONG_TERM,
  },
  {
    method: 'DELETE',
    url: `${API}/prod/api/v1/spark/jobs/job-2f0c6b1e-8f53-4c5e-9d2a-7d1f3c9a0b11`,
    headers: { accept: 'application/json' },
    credentials: TEMPORARY,
  },
];

describe("SigV4 signing for the smoke's --auth iam and the client's IAM mode", () => {
  it('signs each request exactly as botocore does: same authorization, date and token headers', async () => {
    const cases = REQUESTS.map((request) => ({ ...request, region: 'eu-west-1', amzDate: AMZ_DATE }));
    const expected = botocoreSigns(cases);
    for (const [i, request] of REQUESTS.entries()) {
      const signed = await signRequest(
        {
          method: request.method,
          url: new URL(request.url),
          headers: request.headers,
          ...(request.body !== undefined && { body: request.body }),
        },
        { region: 'eu-west-1', credentials: async () => request.credentials, signingDate: AT },
      );
      const ours = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v]));
      expect(ours, request.url).toEqual(expected[i]);
      expect(ours.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=\w+\/20260102\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
      );
    }
  });

  it('differs from botocore when anything signed differs (the comparison can fail)', async () => {
    const [request] = REQUESTS;
    if (!request) throw new Error('no request');
    const [expected] = botocoreSigns([{ ...request, region: 'eu-west-1', amzDate: AMZ_DATE }]);
    const signed = await signRequest(
      {
        method: request.method,
        url: new URL(request.url),
        headers: request.headers,
        body: `${request.body} `,
      },
      { region: 'eu-west-1', credentials: async () => request.credentials, signingDate: AT },
    );
    expect(signed.authorization).not.toBe(expected?.authorization);
  });

  it('sends on the wire exactly what it signed: botocore re-signs the received request to the same signature', async () => {
    const received: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const client = new LibraClient({
        endpoint: new URL(`http://127.0.0.1:${port}/prod/`),
        auth: { mode: 'iam', region: 'eu-west-1', credentials: async () => TEMPORARY },
      });
      await client.request('POST', '/api/v1/spark/jobs/submit', { code: 'SELECT 1', kind: 'sql', note: 'ü' });
      await client.request('GET', `/api/v1/spark/jobs?tag=${encodeURIComponent('team=data')}&limit=5`);
      const typed = new TypedClient({
        endpoint: `http://127.0.0.1:${port}/prod/`,
        auth: { mode: 'iam', region: 'eu-west-1', credentials: async () => TEMPORARY },
      });
      await typed.submit(
        { code: 'SELECT 1', kind: 'sql', tags: { note: 'ü' } },
        { idempotencyKey: 'nightly' },
      );
      await typed.list({ tag: 'team=data', limit: 5 });
    } finally {
      server.close();
    }

    expect(received.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST /prod/api/v1/spark/jobs/submit',
      'GET /prod/api/v1/spark/jobs?tag=team%3Ddata&limit=5',
      'POST /prod/api/v1/spark/jobs/submit',
      'GET /prod/api/v1/spark/jobs?tag=team%3Ddata&limit=5',
    ]);
    expect(received[2]?.headers['idempotency-key']).toBe('nightly');
    // Only the headers the signature names are given to botocore: fetch adds others of its own.
    const cases = received.map((request) => {
      const authorization = String(request.headers.authorization);
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
      const headers: Record<string, string> = {};
      for (const name of signedHeaders) {
        if (name !== 'x-amz-date' && name !== 'x-amz-security-token')
          headers[name] = String(request.headers[name]);
      }
      return {
        method: request.method,
        url: `http://127.0.0.1:${port}${request.url}`,
        headers,
        ...(request.body !== '' && { body: request.body }),
        region: 'eu-west-1',
        credentials: TEMPORARY,
        amzDate: String(request.headers['x-amz-date']),
      };
    });
    const resigned = botocoreSigns(cases);
    received.forEach((request, i) => {
      expect(request.headers.authorization).toBe(resigned[i]?.authorization);
      expect(request.headers['x-amz-security-token']).toBe(TEMPORARY.sessionToken);
      expect(String(request.headers.authorization)).toContain('SignedHeaders=accept;');
    });
  });

  it("reads the region from an API Gateway endpoint's host", () => {
    expect(regionOfEndpoint(new URL(`${API}/`))).toBe('eu-west-1');
    expect(regionOfEndpoint(new URL('https://abc123.execute-api.cn-north-1.amazonaws.com.cn/'))).toBe(
      'cn-north-1',
    );
    expect(regionOfEndpoint(new URL('https://api.example.com/'))).toBeUndefined();
  });
});
