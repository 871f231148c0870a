import { gunzipSync } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';

export type Stream = 'stdout' | 'stderr';

/**
 * The Spark driver's stdout or stderr under a job's `logs` link (`s3://bucket/prefix/`), as EMR
 * writes them: `SPARK_DRIVER/stdout.gz` on EMR Serverless, `…/<driver pod>/stdout.gz` on EMR on
 * EKS. The newest one wins when the job ran more than once. Undefined when there is none yet.
 */
export async function readDriverLog(s3: S3Client, logs: string, stream: Stream): Promise<string | undefined> {
  const { GetObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(logs);
  if (!match?.[1]) throw new Error(`not an s3:// location: ${logs}`);
  const [, bucket, prefix] = match;
  const wanted = new RegExp(`/(SPARK_DRIVER|[^/]*driver[^/]*)/${stream}\\.gz$`, 'i');
  let newest: { key: string; at: number } | undefined;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token !== undefined && { ContinuationToken: token }),
      }),
    );
    for (const object of page.Contents ?? []) {
      const at = object.LastModified?.getTime() ?? 0;
      if (object.Key && wanted.test(`/${object.Key}`) && (!newest || at >= newest.at)) {
        newest = { key: object.Key, at };
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  if (!newest) return undefined;
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: newest.key }));
  const bytes = await object.Body?.transformToByteArray();
  return bytes ? gunzipSync(bytes).toString('utf8') : '';
}
