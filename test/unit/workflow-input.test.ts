import { describe, expect, it } from 'vitest';
import type { JobRecord } from '#core/job-record.ts';
import { parseJobRequest } from '#core/job-request.ts';
import { sizeJob } from '#core/sizing.ts';
import {
  type ArtifactLocations,
  type BackendTargets,
  POD_TEMPLATE_KEYS,
  workflowInput,
} from '#core/workflow-input.ts';

/** The workflow input admission builds for a job, from the pool's deployed targets. */

const ARTIFACTS: ArtifactLocations = {
  runnersUri: 's3://artifacts/runners/',
  codeUri: (jobId, jobType) => `s3://artifacts/jobs/${jobId}/code.${jobType === 'sql' ? 'sql' : 'py'}`,
  logUri: 's3://artifacts/logs/',
};

const EKS = {
  virtualClusterId: 'vc0123',
  executionRoleArn: 'arn:aws:iam::123456789012:role/eks-jobs',
  releaseLabel: 'emr-7.5.0-latest',
};
const SERVERLESS = { applicationId: '00fapp', executionRoleArn: 'arn:aws:iam::123456789012:role/jobs' };

function job(backend: JobRecord['backend'], sparkConf: Record<string, string>): JobRecord {
  const parsed = parseJobRequest({ code: 'SELECT 1', kind: 'sql', sparkConf });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const sized = sizeJob(parsed.request.sparkConf, { defaultMaxExecutors: 10 });
  if (!sized.ok) throw new Error(JSON.stringify(sized.errors));
  return {
    jobId: 'job-1',
    owner: 'alice',
    status: 'SCHEDULED',
    pool: 'k8s',
    backend,
    priority: 5,
    tags: {},
    spec: {
      jobType: 'sql',
      code: 'SELECT 1',
      sparkConf: sized.sizing.sparkConf,
      retryPolicy: parsed.request.retryPolicy,
      retryDelaysSeconds: [1, 2, 4],
      retryOnTimeout: false,
      timeoutMinutes: 60,
    },
    resources: sized.sizing.resources,
    reservation: {
      cpuCores: sized.sizing.resources.totalCores,
      memoryMiB: sized.sizing.resources.totalMemoryMiB,
    },
    attempts: 0,
    submittedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    requestHash: 'h',
  };
}

const defaultsOf = (request: {
  ConfigurationOverrides: { ApplicationConfiguration: { Properties: object }[] };
}) => request.ConfigurationOverrides.ApplicationConfiguration[0]?.Properties;

describe("workflow input: the pool's EMR on EKS templates", () => {
  it('starts the run with the job template and names the pod templates in spark-defaults', () => {
    // Prepare
    const targets: BackendTargets = {
      eks: {
        ...EKS,
        jobTemplateId: 'tpl0abc',
        podTemplate: { driver: 's3://platform/driver.yaml', executor: 's3://platform/executor.yaml' },
      },
    };

    // Act
    const input = workflowInput(job('eks', { 'spark.sql.shuffle.partitions': '8' }), targets, ARTIFACTS, 90);

    // Assess
    const eks = input.request.eks;
    expect(eks?.JobTemplateId).toBe('tpl0abc');
    expect(eks?.ExecutionRoleArn).toBe(EKS.executionRoleArn);
    expect(eks && defaultsOf(eks)).toEqual({
      'spark.sql.shuffle.partitions': '8',
      [POD_TEMPLATE_KEYS.driver]: 's3://platform/driver.yaml',
      [POD_TEMPLATE_KEYS.executor]: 's3://platform/executor.yaml',
    });
  });

  it("writes the pool's pod template over any the record holds", () => {
    // Prepare: a record written before the policy refused the key.
    const record = job('eks', {});
    const old: JobRecord = {
      ...record,
      spec: {
        ...record.spec,
        sparkConf: { ...record.spec.sparkConf, [POD_TEMPLATE_KEYS.driver]: 's3://x/pod.yaml' },
      },
    };

    // Act
    const input = workflowInput(
      old,
      { eks: { ...EKS, podTemplate: { driver: 's3://platform/driver.yaml' } } },
      ARTIFACTS,
      90,
    );

    // Assess
    const eks = input.request.eks;
    expect(eks && defaultsOf(eks)).toMatchObject({ [POD_TEMPLATE_KEYS.driver]: 's3://platform/driver.yaml' });
    expect(eks && defaultsOf(eks)).not.toHaveProperty(POD_TEMPLATE_KEYS.executor);
  });

  it('sends no template id and no pod template keys for a pool without them', () => {
    // Act
    const input = workflowInput(job('eks', {}), { eks: EKS }, ARTIFACTS, 90);

    // Assess
    expect(input.request.eks).not.toHaveProperty('JobTemplateId');
    const eks = input.request.eks;
    expect(Object.keys((eks && defaultsOf(eks)) ?? {}).filter((key) => key.includes('podTemplate'))).toEqual(
      [],
    );
  });

  it('leaves EMR Serverless runs alone, whatever the EKS side holds', () => {
    // Act
    const input = workflowInput(
      job('emr-serverless', {}),
      {
        emrServerless: SERVERLESS,
        eks: { ...EKS, jobTemplateId: 'tpl0abc', podTemplate: { driver: 's3://p/d.yaml' } },
      },
      ARTIFACTS,
      90,
    );

    // Assess
    const serverless = input.request.emrServerless;
    expect(input.request.eks).toBeUndefined();
    expect(JSON.stringify(serverless)).not.toContain('podTemplate');
    expect(JSON.stringify(serverless)).not.toContain('tpl0abc');
  });
});
