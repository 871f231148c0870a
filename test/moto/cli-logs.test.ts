import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDriverLog } from '../../bin/cli/logs.ts';
import { motoClientConfig, motoName } from '../support/moto.ts';

/**
 * `libra logs` on a deployed job reads the Spark driver's log under the job's `logs` link, laid out
 * as EMR writes it; here the objects are in moto's S3.
 */
describe('libra logs from the Spark logs in S3', () => {
  const s3 = new S3Client({ ...motoClientConfig(), forcePathStyle: true });
  const bucket = motoName('libra-logs');
  const put = (key: string, text: string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(text) }));

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    // EMR Serverless: <logUri><jobId>/applications/<app>/jobs/<run>/SPARK_DRIVER/stdout.gz
    const serverless = 'logs/job-a/applications/00f1/jobs/00r1/';
    await put(`${serverless}SPARK_DRIVER/stdout.gz`, 'driver says hello\n');
    await put(`${serverless}SPARK_DRIVER/stderr.gz`, 'driver complains\n');
    await put(`${serverless}SPARK_EXECUTOR/1/stdout.gz`, 'executor noise\n');
    // EMR on EKS: <logUri><jobId>/<vc>/jobs/<id>/containers/<app>/<driver pod>/stdout.gz
    const eks = 'logs/job-b/vc1/jobs/id1/containers/spark-id1/';
    await put(`${eks}spark-id1-exec-1/stdout.gz`, 'executor noise\n');
    await put(`${eks}spark-id1-driver/stdout.gz`, 'eks driver output\n');
  });

  it("reads the driver's stdout and stderr, never an executor's", async () => {
    const logs = `s3://${bucket}/logs/job-a/applications/00f1/jobs/00r1/`;
    expect(await readDriverLog(s3, logs, 'stdout')).toBe('driver says hello\n');
    expect(await readDriverLog(s3, logs, 'stderr')).toBe('driver complains\n');
  });

  it("finds the driver pod's log on EMR on EKS", async () => {
    const logs = `s3://${bucket}/logs/job-b/vc1/jobs/id1/`;
    expect(await readDriverLog(s3, logs, 'stdout')).toBe('eks driver output\n');
    expect(await readDriverLog(s3, logs, 'stderr')).toBeUndefined();
  });

  it('refuses a link that is not an s3:// location', async () => {
    await expect(readDriverLog(s3, 'https://example.com/logs/', 'stdout')).rejects.toThrow(
      'not an s3:// location: https://example.com/logs/',
    );
  });
});
