import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type {
  CancelResultBody,
  JobEventBody,
  JobSummaryBody,
  PoolViewBody,
  RerunAccepted,
  StatusViewBody,
  SubmitAccepted,
} from '#core/api-schemas.ts';
import type { JobEvent } from '#core/job-record.ts';
import { parseJobRequest, parseRerunOverrides } from '#core/job-request.ts';
import type { JobSummary } from '#core/ports.ts';
import type { CancelResult } from '#core/use-cases/cancel-job.ts';
import type { StatusView } from '#core/use-cases/job-status.ts';
import type { PoolView } from '#core/use-cases/list-pools.ts';
import { generatedOpenApi, generatedReference, REFERENCE_FILE } from '../../bin/build-openapi.ts';
import { contract, contractProblems, OPENAPI_FILE } from '../support/contract.ts';

describe('docs/openapi.json', () => {
  it('is what the generator makes from the zod schemas (npm run build:openapi writes it)', () => {
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(generatedOpenApi());
  });

  it('is rendered in docs/api.md as it is, every operation and schema in it', () => {
    const reference = readFileSync(REFERENCE_FILE, 'utf8');
    expect(reference).toBe(generatedReference());
    for (const op of contract().operations) {
      expect(reference).toContain(`### \`${op.method} ${op.template}\``);
    }
    for (const name of Object.keys(contract().document.components.schemas)) {
      expect(reference).toContain(`### ${name}\n`);
    }
  });

  it('passes redocly lint with neither errors nor warnings', () => {
    const cli = new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url).pathname;
    const lint = spawnSync(process.execPath, [cli, 'lint', 'docs/openapi.json', '--format=stylish'], {
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    if (lint.error) throw new Error(`@redocly/cli could not run: ${lint.error.message}`);
    const output = `${lint.stdout}${lint.stderr}`;
    expect(lint.status, output).toBe(0);
    expect(output).toContain('Your API description is valid');
    expect(output, output).not.toMatch(/\bwarning\b/);
  });

  it('has an operation for every route the API serves, each with a 4xx and its problem', () => {
    const operations = contract().operations.map((op) => `${op.method} ${op.template}`);
    expect(operations.sort()).toEqual(
      [
        'POST /api/v1/spark/jobs/submit',
        'GET /api/v1/spark/jobs',
        'GET /api/v1/spark/jobs/{jobId}',
        'DELETE /api/v1/spark/jobs/{jobId}',
        'GET /api/v1/spark/jobs/{jobId}/events',
        'POST /api/v1/spark/jobs/{jobId}/rerun',
        'GET /api/v1/spark/pools',
        'GET /api/v1/spark/usage',
        'GET /api/v1/openapi.json',
        'GET /local/jobs/{jobId}/runs/{runId}/{file}',
        'GET /health',
      ].sort(),
    );
    const { securitySchemes } = contract().document.components;
    expect(Object.keys(securitySchemes).sort()).toEqual(['jwt', 'localUser', 'sigv4']);
    expect(securitySchemes.jwt).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });

  it("promises only what the handlers' types carry: each answer schema's output type is one of theirs", () => {
    // The other way (nothing the handlers send is missing from the schemas) is checked on every
    // answer the integration tests receive: the schemas are strict objects.
    type Extends<A, B> = [A] extends [B] ? true : false;
    const checks: [
      Extends<StatusViewBody, StatusView>,
      Extends<JobSummaryBody, JobSummary>,
      Extends<JobEventBody, JobEvent>,
      Extends<CancelResultBody, CancelResult>,
      Extends<PoolViewBody, PoolView>,
      Extends<SubmitAccepted, Pick<StatusView, 'jobId' | 'status' | 'submittedAt'>>,
      Extends<RerunAccepted, Pick<StatusView, 'jobId' | 'status' | 'submittedAt'> & { rerunOf: string }>,
    ] = [true, true, true, true, true, true, true];
    expect(checks.every(Boolean)).toBe(true);
  });
});

describe("the document's JobRequest", () => {
  const validate = contract().validator('#/components/schemas/JobRequest');

  const accepted: Record<string, unknown>[] = [
    { code: 'SELECT 1', kind: 'sql' },
    {
      code: 'SELECT COUNT(*) AS n FROM range(10)',
      kind: 'sql',
      executionMode: 'auto',
      priority: 7,
      retryPolicy: { maxRetries: 3, backoffMultiplier: 2 },
      name: 'count-range',
      tags: { team: 'data' },
    },
    {
      code: 'print(1)',
      kind: 'python',
      executionMode: 'in-cluster',
      retryOnTimeout: true,
      timeoutMinutes: 5,
    },
    {
      entryPoint: 's3://bucket/jobs/etl.py',
      entryPointArguments: ['--day', '2025-01-01'],
      executionMode: 'eks',
    },
    { entryPoint: 's3://bucket/jobs/etl.jar', mainClass: 'com.example.Etl', executionMode: 'kubernetes' },
    {
      code: 'SELECT 1',
      kind: 'sql',
      sparkConf: { 'spark.executor.instances': '4' },
      notifications: { webhook: 'https://hooks.example.com/libra', events: ['SUCCEEDED'] },
      pool: 'default',
    },
  ];

  // Refused by the request schema for what JSON Schema can say: the document refuses them too.
  const refused: Record<string, unknown>[] = [
    {},
    { code: 'SELECT 1' },
    { code: 'SELECT 1', kind: 'sql', entryPoint: 's3://bucket/a.py' },
    { code: 'SELECT 1', kind: 'sql', mainClass: 'com.example.Etl' },
    { entryPoint: 's3://bucket/jobs/etl.py', mainClass: 'com.example.Etl' },
    { code: 'SELECT 1', kind: 'sql', priority: 11 },
    { code: 'SELECT 1', kind: 'sql', executionMode: 'yarn' },
    { code: 'SELECT 1', kind: 'sql', unknown: true },
    { code: 'SELECT 1', kind: 'sql', retryPolicy: { maxRetries: 11 } },
    { entryPoint: 'https://example.com/a.py' },
  ];

  it.each(accepted)('accepts what submit accepts: %j', (body) => {
    expect(parseJobRequest(body).ok).toBe(true);
    expect(contract().errorsOf(validate, body)).toEqual([]);
  });

  it.each(refused)('refuses what submit refuses: %j', (body) => {
    expect(parseJobRequest(body).ok).toBe(false);
    expect(contract().errorsOf(validate, body)).not.toEqual([]);
  });
});

describe("the document's RerunRequest", () => {
  const validate = contract().validator('#/components/schemas/RerunRequest');
  const accepted: Record<string, unknown>[] = [
    {},
    { priority: 9 },
    {
      priority: 1,
      sparkConf: { 'spark.executor.instances': '2' },
      timeoutMinutes: 30,
      retryPolicy: { maxRetries: 0 },
      name: 'again',
      tags: { run: '2' },
    },
  ];
  const refused: Record<string, unknown>[] = [
    { priority: 0 },
    { timeoutMinutes: 0 },
    { code: 'SELECT 2' },
    { pool: 'other' },
    { notifications: { webhook: 'https://hooks.example.com/x' } },
    { retryPolicy: { maxRetries: 11 } },
    { tags: { 'bad key!': 'x' } },
  ];

  it.each(accepted)('accepts the changes a re-run takes: %j', (body) => {
    expect(parseRerunOverrides(body).ok).toBe(true);
    expect(contract().errorsOf(validate, body)).toEqual([]);
  });

  it.each(refused)('refuses what a re-run refuses: %j', (body) => {
    expect(parseRerunOverrides(body).ok).toBe(false);
    expect(contract().errorsOf(validate, body)).not.toEqual([]);
  });
});

describe('the contract check', () => {
  const pools = (body: unknown, status = 200, type = 'application/json') =>
    contractProblems({
      method: 'GET',
      path: '/api/v1/spark/pools',
      status,
      headers: { 'content-type': type },
      body: JSON.stringify(body),
    }).problems;

  it('fails an undocumented status, content type, field or a missing required header', () => {
    expect(pools({ pools: [] })).toEqual([]);
    expect(pools({ pools: [] }, 418)[0]).toMatch(/status 418 is not documented/);
    expect(pools({ pools: [] }, 200, 'text/html')[0]).toMatch(/content type text\/html is not documented/);
    expect(pools({ pools: [], more: 1 })[0]).toMatch(/must NOT have additional properties/);
    const submitted = contractProblems({
      method: 'POST',
      path: '/api/v1/spark/jobs/submit',
      status: 202,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jobId: 'job-2b0d1c3e-1f2a-4b5c-8d9e-0a1b2c3d4e5f',
        status: 'QUEUED',
        submittedAt: '2025-01-01T00:00:00.000Z',
      }),
    }).problems;
    expect(submitted).toEqual(['header Location is required']);
  });

  it("takes a request no operation serves only with API Gateway's 404", () => {
    const answer = { method: 'PUT', path: '/api/v1/spark/jobs/submit', headers: {} };
    expect(contractProblems({ ...answer, status: 404, body: '{"message":"Not Found"}' }).problems).toEqual(
      [],
    );
    expect(contractProblems({ ...answer, status: 200, body: '{}' }).problems[0]).toMatch(
      /matches no operation/,
    );
  });
});
