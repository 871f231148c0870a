import { describe, expect, it } from 'vitest';
import type { JobRecord } from '#core/job-record.ts';
import { parseJobRequest } from '#core/job-request.ts';
import { sizeJob } from '#core/sizing.ts';
import {
  type ArtifactLocations,
  type BackendTargets,
  POD_TEMPLATE_KEYS,
  PROGRESS_ENV,
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

function job(
  backend: JobRecord['backend'],
  sparkConf: Record<string, string>,
  jobType: 'sql' | 'python' = 'sql',
): JobRecord {
  const code = jobType === 'sql' ? 'SELECT 1' : 'print(1)';
  const parsed = parseJobRequest({ code, kind: jobType, sparkConf });
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
      jobType,
      code,
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

describe('workflow input: where the driver reports progress', () => {
  const WITH_PROGRESS: ArtifactLocations = {
    ...ARTIFACTS,
    progress: { table: 'libra-jobs', region: 'eu-west-1' },
  };
  const ENV_VALUE = 'table=libra-jobs,job=job-1,region=eu-west-1';

  it("names the job's record in the driver's environment on the command line, by the key of each backend, over any value the record holds", () => {
    // Prepare: the policy refuses the key at submit; a record written by hand could still hold it.
    const record = job('emr-serverless', {});
    const key = `spark.emr-serverless.driverEnv.${PROGRESS_ENV}`;
    const forged: JobRecord = {
      ...record,
      spec: {
        ...record.spec,
        sparkConf: { ...record.spec.sparkConf, [key]: 'table=other,job=job-2,region=x' },
      },
    };

    // Act
    const serverless = workflowInput(forged, { emrServerless: SERVERLESS }, WITH_PROGRESS, 90).request
      .emrServerless;
    const eks = workflowInput(job('eks', {}), { eks: EKS }, WITH_PROGRESS, 90).request.eks;

    // Assess: outside spark-defaults, so it counts against none of EMR's 100 properties.
    expect(serverless?.JobDriver.SparkSubmit.SparkSubmitParameters.split(' ')).toContain(
      `spark.emr-serverless.driverEnv.${PROGRESS_ENV}=${ENV_VALUE}`,
    );
    expect(serverless && defaultsOf(serverless)).not.toHaveProperty(key);
    expect(eks?.JobDriver.SparkSubmitJobDriver.SparkSubmitParameters.split(' ')).toContain(
      `spark.kubernetes.driverEnv.${PROGRESS_ENV}=${ENV_VALUE}`,
    );
    expect(JSON.stringify(eks && defaultsOf(eks))).not.toContain(PROGRESS_ENV);
  });

  it('tells the driver nothing without a progress target', () => {
    // Act
    const eks = workflowInput(job('eks', {}), { eks: EKS }, ARTIFACTS, 90).request.eks;

    // Assess
    expect(JSON.stringify(eks)).not.toContain(PROGRESS_ENV);
  });

  it("starts inline Python through the bootstrap, with the helper and the caller's own py-files", () => {
    // Act
    const serverless = workflowInput(
      job('emr-serverless', { 'spark.submit.pyFiles': 's3://mine/lib.zip' }, 'python'),
      { emrServerless: SERVERLESS },
      ARTIFACTS,
      90,
    ).request.emrServerless;

    // Assess
    const driver = serverless?.JobDriver.SparkSubmit;
    expect(driver?.EntryPoint).toBe('s3://artifacts/runners/libra_bootstrap.py');
    expect(driver?.EntryPointArguments).toEqual(['s3://artifacts/jobs/job-1/code.py']);
    expect(driver?.SparkSubmitParameters).toContain(
      '--py-files s3://artifacts/runners/libra_progress.py,s3://mine/lib.zip',
    );
    expect(serverless && defaultsOf(serverless)).not.toHaveProperty('spark.submit.pyFiles');
  });

  it('gives the SQL runner the helper too', () => {
    // Act
    const driver = workflowInput(job('eks', {}), { eks: EKS }, ARTIFACTS, 90).request.eks?.JobDriver
      .SparkSubmitJobDriver;

    // Assess
    expect(driver?.EntryPoint).toBe('s3://artifacts/runners/sql_runner.py');
    expect(driver?.SparkSubmitParameters).toMatch(
      /--py-files s3:\/\/artifacts\/runners\/libra_progress\.py$/,
    );
  });
});
