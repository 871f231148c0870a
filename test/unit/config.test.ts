import { describe, expect, it } from 'vitest';
import { ConfigError, isAdmin, type LibraConfig, mayUsePool, parseConfig } from '#core/config.ts';

const DEFAULT_POOL = {
  cpuCores: 16,
  memoryGb: 64,
  maxConcurrentJobs: 10,
  maxQueueSize: 1000,
  maxWaitMinutes: 30,
  backfill: false,
  defaultMaxExecutors: 10,
  defaultTimeoutMinutes: 720,
  backends: { emrServerless: { releaseLabel: 'emr-7.5.0' } },
  allowedPrincipals: ['*'],
  prices: { vcpuHour: 0.052624, memoryGbHour: 0.0057785, storageGbHour: 0.000111 },
  ownerWeights: {},
};

const EKS = {
  virtualClusterId: 'vc-123',
  executionRoleArn: 'arn:aws:iam::123456789012:role/libra-eks-jobs',
};

/** The lines of the error parseConfig throws, after its heading. */
function problems(raw: unknown, root?: string): string[] {
  try {
    parseConfig(raw, root);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const [heading, ...lines] = (error as ConfigError).message.split('\n');
    expect(heading).toBe('invalid Libra configuration:');
    return lines.map((line) => line.trim());
  }
  throw new Error('expected the configuration to be refused');
}

describe('config: defaults', () => {
  it("gives an empty configuration the original Libra's defaults and a default pool", () => {
    // Act
    const config = parseConfig({});

    // Assess
    expect(config).toEqual({
      pools: { default: DEFAULT_POOL },
      auth: { mode: 'iam' },
      admins: [],
      retention: { days: 90 },
      limits: { maxBodyBytes: 256 * 1024, maxCodeBytes: 128 * 1024 },
      startRetry: { maxAttempts: 5, initialDelaySeconds: 30, backoffMultiplier: 2, maxDelaySeconds: 300 },
      orchestration: { usdPerJob: 0.0002502, usdPerRetry: 0.0002592 },
    });
  });

  it('fills the start retries a configuration leaves out from those it gives', () => {
    expect(parseConfig({ startRetry: { maxAttempts: 2, maxDelaySeconds: 60 } }).startRetry).toEqual({
      maxAttempts: 2,
      initialDelaySeconds: 30,
      backoffMultiplier: 2,
      maxDelaySeconds: 60,
    });
  });

  it.each([undefined, null])('reads %s as an empty configuration', (raw) => {
    expect(parseConfig(raw)).toEqual(parseConfig({}));
  });

  it('adds the default pool beside named pools, filling their defaults', () => {
    // Act
    const config = parseConfig({ pools: { etl: { cpuCores: 64, memoryGb: 256 } } });

    // Assess
    expect(Object.keys(config.pools).sort()).toEqual(['default', 'etl']);
    expect(config.pools.default).toEqual(DEFAULT_POOL);
    expect(config.pools.etl).toEqual({ ...DEFAULT_POOL, cpuCores: 64, memoryGb: 256 });
  });

  it('lets the configuration reshape the default pool', () => {
    // Act
    const config = parseConfig({ pools: { default: { maxConcurrentJobs: 3, backends: { eks: EKS } } } });

    // Assess
    expect(config.pools.default?.maxConcurrentJobs).toBe(3);
    expect(config.pools.default?.backends).toEqual({
      eks: { ...EKS, releaseLabel: 'emr-7.5.0-latest' },
    });
  });

  it("reads an EKS pool's job template and pod templates", () => {
    // Prepare
    const eks = {
      ...EKS,
      jobTemplateId: '0a1b2c3d4e5f',
      podTemplate: { driver: 's3://platform/pods/driver.yaml', executor: 's3://platform/pods/executor.yaml' },
    };

    // Act
    const config = parseConfig({ pools: { k8s: { backends: { eks } } } });

    // Assess
    expect(config.pools.k8s?.backends.eks).toEqual({ ...eks, releaseLabel: 'emr-7.5.0-latest' });
  });

  it('reads a full configuration as written', () => {
    // Prepare
    const raw = {
      pools: {
        etl: {
          cpuCores: 128,
          memoryGb: 512,
          maxConcurrentJobs: 20,
          maxQueueSize: 0,
          maxWaitMinutes: 120,
          backfill: true,
          defaultMaxExecutors: 40,
          defaultTimeoutMinutes: 60,
          backends: {
            emrServerless: {
              applicationId: '00fabc123',
              releaseLabel: 'emr-7.2.0',
              executionRoleArn: 'arn:aws:iam::123456789012:role/etl',
            },
            eks: { ...EKS, releaseLabel: 'emr-7.2.0' },
          },
          allowedPrincipals: ['arn:aws:iam::123456789012:role/analyst'],
          prices: { vcpuHour: 0.04, memoryGbHour: 0.005, storageGbHour: 0 },
          monthlyBudgetUsd: 250,
          ownerWeights: { 'arn:aws:iam::123456789012:role/analyst': 2, 'jwt|carol': 0.5 },
          maxRunningPerOwner: 5,
        },
      },
      auth: { mode: 'jwt', issuer: 'https://auth.example.com/', audience: ['libra'] },
      admins: ['arn:aws:iam::123456789012:role/ops'],
      retention: { days: 30 },
      limits: { maxBodyBytes: 1024, maxCodeBytes: 512 },
      alarmEmail: 'ops@example.com',
      orchestration: { usdPerJob: 0.0003, usdPerRetry: 0.0002 },
    };

    // Act
    const config: LibraConfig = parseConfig(raw);

    // Assess
    expect(config.pools.etl).toEqual(raw.pools.etl);
    expect(config.auth).toEqual(raw.auth);
    expect(config.admins).toEqual(raw.admins);
    expect(config.retention).toEqual({ days: 30 });
    expect(config.limits).toEqual({ maxBodyBytes: 1024, maxCodeBytes: 512 });
    expect(config.alarmEmail).toBe('ops@example.com');
    expect(config.orchestration).toEqual(raw.orchestration);
  });
});

describe('config: refusals name the offending key', () => {
  it.each([
    [{ pools: { etl: { cpuCores: 0 } } }, 'libra.pools.etl.cpuCores', undefined],
    [{ pools: { etl: { cpuCores: -4 } } }, 'libra.pools.etl.cpuCores', undefined],
    [{ pools: { etl: { memoryGb: '64' } } }, 'libra.pools.etl.memoryGb', undefined],
    [{ pools: { etl: { maxConcurrentJobs: 2.5 } } }, 'libra.pools.etl.maxConcurrentJobs', undefined],
    [{ pools: { etl: { maxQueueSize: -1 } } }, 'libra.pools.etl.maxQueueSize', undefined],
    [{ pools: { etl: { maxWaitMinutes: 0 } } }, 'libra.pools.etl.maxWaitMinutes', undefined],
    [
      { pools: { etl: { defaultTimeoutMinutes: 10_081 } } },
      'libra.pools.etl.defaultTimeoutMinutes',
      undefined,
    ],
    [{ pools: { etl: { allowedPrincipals: [] } } }, 'libra.pools.etl.allowedPrincipals', undefined],
    [
      { pools: { etl: { backends: { emrServerless: { releaseLabel: '7.5' } } } } },
      'libra.pools.etl.backends.emrServerless.releaseLabel',
      'must look like emr-7.5.0',
    ],
    [
      { pools: { etl: { backends: { emrServerless: { executionRoleArn: 'admin' } } } } },
      'libra.pools.etl.backends.emrServerless.executionRoleArn',
      'must be an ARN',
    ],
    [
      { pools: { etl: { backends: { eks: { virtualClusterId: 'vc' } } } } },
      'libra.pools.etl.backends.eks.executionRoleArn',
      undefined,
    ],
    [
      { pools: { etl: { backends: { eks: { ...EKS, jobTemplateId: 'Template-1' } } } } },
      'libra.pools.etl.backends.eks.jobTemplateId',
      'must be a job template id',
    ],
    [
      { pools: { etl: { backends: { eks: { ...EKS, podTemplate: {} } } } } },
      'libra.pools.etl.backends.eks.podTemplate',
      'name a driver or an executor template',
    ],
    [
      { pools: { etl: { backends: { eks: { ...EKS, podTemplate: { driver: 'https://x/pod.yaml' } } } } } },
      'libra.pools.etl.backends.eks.podTemplate.driver',
      'must be an s3:// URI of an object',
    ],
    [
      {
        pools: {
          etl: { backends: { eks: { ...EKS, podTemplate: { executor: 's3://bucket/pod.yaml', sa: 'x' } } } },
        },
      },
      'libra.pools.etl.backends.eks.podTemplate.sa',
      'unknown key',
    ],
    [{ pools: { etl: { backends: {} } } }, 'libra.pools.etl.backends', 'a pool needs at least one backend'],
    [
      { pools: { etl: { ownerWeights: { 'jwt|alice': 0 } } } },
      'libra.pools.etl.ownerWeights.jwt|alice',
      'a weight is from 0.01 to 100',
    ],
    [
      { pools: { etl: { ownerWeights: { 'jwt|alice': 101 } } } },
      'libra.pools.etl.ownerWeights.jwt|alice',
      'a weight is from 0.01 to 100',
    ],
    [{ pools: { etl: { ownerWeights: ['jwt|alice'] } } }, 'libra.pools.etl.ownerWeights', undefined],
    [{ pools: { etl: { maxRunningPerOwner: 0 } } }, 'libra.pools.etl.maxRunningPerOwner', undefined],
    [{ pools: { etl: { maxRunningPerOwner: 1.5 } } }, 'libra.pools.etl.maxRunningPerOwner', undefined],
    [
      { pools: { etl: { maxConcurrentJobs: 4, maxRunningPerOwner: 5 } } },
      'libra.pools.etl.maxRunningPerOwner',
      "must not be above the pool's maxConcurrentJobs",
    ],
    [{ retention: { days: 0 } }, 'libra.retention.days', undefined],
    [{ retention: { days: 3651 } }, 'libra.retention.days', undefined],
    [{ limits: { maxBodyBytes: 0 } }, 'libra.limits.maxBodyBytes', undefined],
    [{ startRetry: { maxAttempts: 0 } }, 'libra.startRetry.maxAttempts', undefined],
    [{ startRetry: { maxAttempts: 1.5 } }, 'libra.startRetry.maxAttempts', undefined],
    [{ startRetry: { backoffMultiplier: 0.5 } }, 'libra.startRetry.backoffMultiplier', undefined],
    [{ startRetry: { initialDelaySeconds: 0 } }, 'libra.startRetry.initialDelaySeconds', undefined],
    [{ startRetry: { retries: 3 } }, 'libra.startRetry.retries', 'unknown key'],
    [{ admins: [''] }, 'libra.admins.0', undefined],
    [{ alarmEmail: 'not-an-email' }, 'libra.alarmEmail', undefined],
  ])('refuses %j at %s', (raw, key, message) => {
    // Act
    const lines = problems(raw);

    // Assess
    expect(lines).toHaveLength(1);
    const [named, ...rest] = (lines[0] ?? '').split(': ');
    expect(named).toBe(key);
    expect(rest.join(': ')).toEqual(message ?? expect.stringMatching(/\S/));
  });

  it('names the root it is given', () => {
    expect(problems({ retention: { days: 0 } }, 'context.libra')[0]).toMatch(
      /^context\.libra\.retention\.days: /,
    );
  });

  it('refuses a pool name that is not lower-case letters, digits and dashes, with the reason', () => {
    expect(problems({ pools: { Bad_Name: {} } })).toEqual([
      'libra.pools.Bad_Name: pool names are lower-case letters, digits and dashes',
    ]);
  });

  it('refuses unknown keys at every level, naming each', () => {
    // Act
    const lines = problems({
      region: 'eu-west-1',
      pools: { etl: { cpus: 4, backends: { emrServerless: { role: 'x' } } } },
      retention: { days: 30, hours: 1 },
    });

    // Assess
    expect(lines.sort()).toEqual([
      'libra.pools.etl.backends.emrServerless.role: unknown key',
      'libra.pools.etl.cpus: unknown key',
      'libra.region: unknown key',
      'libra.retention.hours: unknown key',
    ]);
  });

  it('reports every problem at once', () => {
    expect(
      problems({ pools: { a: { cpuCores: 0 }, b: { memoryGb: 0 } }, retention: { days: 0 } }),
    ).toHaveLength(3);
  });

  it('requires an issuer and an audience for JWT auth', () => {
    // Act
    const lines = problems({ auth: { mode: 'jwt' } });

    // Assess
    expect(lines.map((line) => line.split(':')[0]).sort()).toEqual([
      'libra.auth.audience',
      'libra.auth.issuer',
    ]);
  });

  it.each([
    [{ mode: 'jwt', issuer: 'not a url', audience: ['libra'] }, 'libra.auth.issuer'],
    [{ mode: 'jwt', issuer: 'https://auth.example.com', audience: [] }, 'libra.auth.audience'],
    [{ mode: 'cognito' }, 'libra.auth.mode'],
    [{ mode: 'iam', issuer: 'https://auth.example.com' }, 'libra.auth.issuer'],
  ])('refuses the auth block %j at %s', (auth, key) => {
    expect(problems({ auth }).map((line) => line.split(':')[0])).toEqual([key]);
  });
});

describe('config: who may do what', () => {
  it('lets everyone use a pool open to * and only the named principals otherwise', () => {
    // Prepare
    const config = parseConfig({ pools: { private: { allowedPrincipals: ['alice', 'bob'] } } });

    // Assess
    expect(mayUsePool(config.pools.default ?? expect.unreachable(), 'anyone')).toBe(true);
    expect(mayUsePool(config.pools.private ?? expect.unreachable(), 'alice')).toBe(true);
    expect(mayUsePool(config.pools.private ?? expect.unreachable(), 'mallory')).toBe(false);
  });

  it('knows the configured admins and no one else', () => {
    // Prepare
    const config = parseConfig({ admins: ['ops'] });

    // Assess
    expect(isAdmin(config, 'ops')).toBe(true);
    expect(isAdmin(config, 'Ops')).toBe(false);
    expect(isAdmin(parseConfig({}), 'ops')).toBe(false);
  });
});
