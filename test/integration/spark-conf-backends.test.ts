import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Api,
  composedApi,
  iamCaller,
  itemCount,
  sqlJob,
  submitEvent,
  testConfig,
} from '../support/api.ts';
import { startTestDatabase, type TestDatabase } from '../support/dynalite.ts';

/**
 * The Spark conf policy through the submit route: the request is checked against both backends'
 * families, then against the one the job is placed on; a refused conf leaves nothing behind.
 */

const CALLER = iamCaller('conf-tester');
const EKS = { virtualClusterId: 'vc0123', executionRoleArn: 'arn:aws:iam::123456789012:role/eks-jobs' };

let db: TestDatabase;
let api: Api;

beforeAll(async () => {
  db = await startTestDatabase();
  api = composedApi(
    db,
    testConfig({
      pools: {
        k8s: { backends: { eks: { ...EKS, podTemplate: { driver: 's3://platform/driver.yaml' } } } },
        both: { backends: { emrServerless: {}, eks: EKS } },
      },
    }),
  );
});
afterAll(async () => {
  await db?.stop();
});

async function submit(body: Record<string, unknown>) {
  return api.submit(submitEvent(CALLER, body));
}

async function refusedWithoutWrite(body: Record<string, unknown>) {
  const before = await itemCount(db);
  const reply = await submit(body);
  expect(reply.status, JSON.stringify(reply.body)).toBe(400);
  expect(await itemCount(db)).toBe(before);
  return reply.body.errors as { field: string; message: string }[];
}

describe('submit: the Spark conf policy per backend', () => {
  it('takes a Kubernetes label on an EKS pool and refuses it on an EMR Serverless one', async () => {
    const sparkConf = { 'spark.kubernetes.driver.label.team': 'etl' };
    expect((await submit(sqlJob({ pool: 'k8s', sparkConf }))).status).toBe(202);
    expect(await refusedWithoutWrite(sqlJob({ sparkConf }))).toEqual([
      {
        field: 'sparkConf.spark.kubernetes.driver.label.team',
        message:
          'spark.kubernetes.driver.label.team is not allowed: it applies to eks only, and this job runs on emr-serverless',
      },
    ]);
  });

  it('refuses an EMR Serverless disk on EKS, and follows the backend a pool with both places the job on', async () => {
    const disk = { 'spark.emr-serverless.executor.disk': '100g' };
    expect((await submit(sqlJob({ sparkConf: disk }))).status).toBe(202);
    expect((await submit(sqlJob({ pool: 'both', sparkConf: disk }))).status).toBe(202);
    expect(
      (await refusedWithoutWrite(sqlJob({ pool: 'both', executionMode: 'eks', sparkConf: disk }))).map(
        (e) => e.field,
      ),
    ).toEqual(['sparkConf.spark.emr-serverless.executor.disk']);
    expect(
      (await refusedWithoutWrite(sqlJob({ pool: 'k8s', sparkConf: disk }))).map((e) => e.message),
    ).toEqual([
      'spark.emr-serverless.executor.disk is not allowed: it applies to emr-serverless only, and this job runs on eks',
    ]);
  });

  it('refuses the -D bypasses and the pod template key on every pool', async () => {
    for (const pool of ['default', 'k8s', 'both']) {
      const errors = await refusedWithoutWrite(
        sqlJob({
          pool,
          sparkConf: {
            'spark.driver.extraJavaOptions':
              '-Dspark.kubernetes.executor.podTemplateFile=s3://x/pod.yaml -Dspark.hadoop.fs.s3a.aws.credentials.provider=com.example.Steal',
            'spark.executor.extraJavaOptions':
              '-Dspark.kubernetes.authenticate.executor.serviceAccountName=admin',
            'spark.kubernetes.driver.podTemplateFile': 's3://x/pod.yaml',
          },
        }),
      );
      expect(errors.map((e) => e.field).sort()).toEqual([
        'sparkConf.spark.driver.extraJavaOptions',
        'sparkConf.spark.executor.extraJavaOptions',
        'sparkConf.spark.kubernetes.driver.podTemplateFile',
      ]);
    }
  });
});
