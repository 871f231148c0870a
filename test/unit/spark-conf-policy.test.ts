import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sparkConfProblems } from '#core/spark-conf-policy.ts';

/** The one problem a single key raises, or undefined when the key is allowed. */
function problemOf(key: string, value = 'x') {
  const problems = sparkConfProblems({ [key]: value });
  expect(problems.length).toBeLessThanOrEqual(1);
  return problems[0];
}

function expectRefused(key: string, reason: string, value = 'x') {
  expect(problemOf(key, value)).toEqual({ key, message: `${key} is not allowed: ${reason}` });
}

describe('Spark conf policy: credentials', () => {
  it.each([
    'spark.hadoop.fs.s3a.aws.credentials.provider',
    'spark.hadoop.fs.s3a.bucket.my-bucket.aws.credentials.provider',
    'spark.hadoop.fs.s3a.assumed.role.credentials.provider',
    'spark.hadoop.fs.s3.customAWSCredentialsProvider',
    'spark.hadoop.hadoop.security.credential.provider.path',
    'spark.sql.catalog.glue.client.credentials-provider',
    'spark.sql.catalog.rest.credential',
    'spark.security.credentials.s3.enabled',
  ])('refuses the credentials provider %s', (key) => {
    expectRefused(key, 'it sets credentials or a credentials provider');
  });

  it.each([
    'spark.hadoop.fs.s3a.access.key',
    'spark.hadoop.fs.s3a.secret.key',
    'spark.hadoop.fs.s3a.session.token',
    'spark.hadoop.fs.s3a.bucket.my-bucket.access.key',
    'spark.hadoop.fs.s3n.awsAccessKeyId',
    'spark.hadoop.fs.s3.awsSecretAccessKey',
    // Iceberg's FileIO spells them with dashes.
    'spark.sql.catalog.lake.s3.access-key-id',
    'spark.sql.catalog.lake.s3.secret-access-key',
    'spark.sql.catalog.lake.s3.session-token',
    'spark.sql.catalog.rest.token',
    'spark.hadoop.javax.jdo.option.ConnectionPassword',
    'spark.ssl.keyStorePassword',
  ])('refuses the secret %s', (key) => {
    expectRefused(key, 'it sets credentials');
  });

  it.each([
    'spark.hadoop.fs.s3a.assumed.role.arn',
    'spark.hadoop.fs.s3a.bucket.other.assumed.role.arn',
    'spark.hadoop.fs.s3a.assumed.role.session.name',
    'spark.hadoop.fs.s3.authorization.roleMapping',
    'spark.sql.catalog.lake.client.assume-role.arn',
    'spark.emr-serverless.executionRoleArn',
    'spark.executionRole',
  ])('refuses the role-setting key %s', (key) => {
    expectRefused(key, 'it chooses a role; roles come from the pool');
  });

  it.each(['spark.hadoop.fs.s3a.web.identity.token.file', 'spark.hadoop.aws.webIdentityTokenFile'])(
    'refuses the web identity key %s',
    (key) => {
      expectRefused(key, 'it chooses a web identity');
    },
  );

  it.each([
    'spark.kerberos.keytab',
    'spark.kerberos.principal',
    'spark.yarn.keytab',
    'spark.yarn.principal',
    'spark.kerberos.access.hadoopFileSystems',
  ])('refuses the Kerberos identity %s', (key) => {
    expectRefused(key, 'it sets a Kerberos identity');
  });
});

describe('Spark conf policy: identity through the environment', () => {
  it.each([
    'spark.executorEnv.AWS_ACCESS_KEY_ID',
    'spark.executorEnv.AWS_ROLE_ARN',
    'spark.executorEnv.AWS_WEB_IDENTITY_TOKEN_FILE',
    'spark.executorEnv.AWS_PROFILE',
    'spark.executorEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'spark.emr-serverless.driverEnv.AWS_REGION',
    'spark.yarn.appMasterEnv.AWS_SHARED_CREDENTIALS_FILE',
    'spark.executorEnv.aws_profile',
    'spark.executorEnv.HADOOP_USER_NAME',
    'spark.emr-serverless.driverEnv.HADOOP_PROXY_USER',
    'spark.executorEnv.HADOOP_TOKEN_FILE_LOCATION',
    'spark.executorEnv.KRB5CCNAME',
  ])('refuses %s', (key) => {
    expectRefused(key, 'it passes an identity through the environment');
  });

  it('refuses AWS_ variables for the Kubernetes driver as pod spec', () => {
    expectRefused('spark.kubernetes.driverEnv.AWS_ROLE_ARN', 'it sets the pod spec');
  });

  it.each(['spark.executorEnv.PYSPARK_PYTHON', 'spark.emr-serverless.driverEnv.JAVA_HOME'])(
    'allows the ordinary variable %s',
    (key) => {
      expect(problemOf(key)).toBeUndefined();
    },
  );
});

describe('Spark conf policy: Kubernetes', () => {
  it.each([
    'spark.kubernetes.driver.podTemplateFile',
    'spark.kubernetes.executor.podTemplateFile',
    'spark.kubernetes.authenticate.driver.serviceAccountName',
    'spark.kubernetes.authenticate.executor.serviceAccountName',
    'spark.kubernetes.authenticate.submission.oauthToken',
    'spark.kubernetes.container.image',
    'spark.kubernetes.driver.container.image',
    'spark.kubernetes.namespace',
    'spark.kubernetes.node.selector.role',
    'spark.kubernetes.driver.node.selector.zone',
    'spark.kubernetes.driver.annotation.iam-role',
    'spark.kubernetes.driver.volumes.hostPath.root.mount.path',
    'spark.kubernetes.executor.volumes.hostPath.docker.options.path',
    'spark.kubernetes.driver.secrets.aws',
    'spark.kubernetes.driver.secretKeyRef.AWS_SECRET_ACCESS_KEY',
    'spark.kubernetes.driverEnv.PATH',
    'spark.kubernetes.executor.podNamePrefix',
    'spark.kubernetes.file.upload.path',
    'spark.kubernetes.executor.request.memory',
  ])('refuses the pod-spec key %s', (key) => {
    expectRefused(key, 'it sets the pod spec');
  });

  it.each([
    'spark.kubernetes.driver.label.team',
    'spark.kubernetes.executor.label.cost-center',
    'spark.kubernetes.executor.label.app.kubernetes.io_name',
    'spark.kubernetes.driver.request.cores',
    'spark.kubernetes.executor.request.cores',
    'spark.kubernetes.driver.limit.cores',
    'spark.kubernetes.executor.limit.cores',
  ])('allows the label or core request %s', (key) => {
    expect(problemOf(key, '1')).toBeUndefined();
  });

  it('allows a label called role: labels do not choose an IAM role', () => {
    expect(problemOf('spark.kubernetes.driver.label.role', 'etl')).toBeUndefined();
  });
});

describe('Spark conf policy: where the driver runs', () => {
  it.each(['spark.master', 'spark.submit.deployMode'])('refuses %s', (key) => {
    expectRefused(key, 'it chooses where the driver runs; Libra does');
  });
});

describe('Spark conf policy: smuggling', () => {
  it.each([
    ' spark.kubernetes.driver.podTemplateFile',
    'spark.kubernetes.driver.podTemplateFile ',
    'spark.app.name=x --conf spark.kubernetes.container.image',
    'spark.app.name\nspark.kubernetes.container.image',
    'spark.app.name:x',
    'spark.kubernetes.driver.annotation.eks.amazonaws.com/role-arn',
    'spark.executorEnv.X\tAWS_ROLE_ARN',
    'spark.sql.shuffle.partitions\u0000',
  ])('refuses the key %j: only letters, digits, dot, underscore and dash', (key) => {
    expectRefused(key, "keys are letters, digits, '.', '_' and '-'");
  });

  it.each(['1\nspark.kubernetes.container.image=evil', '1\rspark.master=local', 'x\u0000', '\u007f'])(
    'refuses a value with a control character (%j)',
    (value) => {
      expectRefused('spark.app.name', 'its value holds a control character', value);
    },
  );

  it('allows spaces in values, as JVM options need them', () => {
    expect(problemOf('spark.driver.extraJavaOptions', '-XX:+UseG1GC -Dfile.encoding=UTF-8')).toBeUndefined();
  });
});

describe('Spark conf policy: harmless keys', () => {
  it.each([
    ['spark.sql.shuffle.partitions', '200'],
    ['spark.executor.memory', '4g'],
    ['spark.driver.memory', '2048m'],
    ['spark.executor.cores', '2'],
    ['spark.executor.instances', '4'],
    ['spark.dynamicAllocation.enabled', 'true'],
    ['spark.dynamicAllocation.maxExecutors', '20'],
    ['spark.sql.adaptive.enabled', 'true'],
    ['spark.eventLog.rolling.enabled', 'true'],
    ['spark.serializer', 'org.apache.spark.serializer.KryoSerializer'],
    ['spark.sql.catalog.glue_catalog', 'org.apache.iceberg.spark.SparkCatalog'],
    ['spark.sql.catalog.glue_catalog.warehouse', 's3://my-bucket/warehouse'],
    ['spark.hadoop.fs.s3a.bucket.my-bucket.endpoint.region', 'eu-west-1'],
    ['spark.jars.packages', 'org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:1.6.1'],
    ['spark.emr-serverless.driver.disk', '100g'],
  ])('allows %s', (key, value) => {
    expect(sparkConfProblems({ [key]: value })).toEqual([]);
  });

  it('allows an empty conf', () => {
    expect(sparkConfProblems({})).toEqual([]);
  });
});

describe('Spark conf policy: properties', () => {
  it('names every refused key exactly once, whatever else the conf holds', () => {
    const harmless = fc.constantFrom(
      'spark.sql.shuffle.partitions',
      'spark.executor.memory',
      'spark.driver.cores',
      'spark.sql.adaptive.enabled',
    );
    const refused = fc.constantFrom(
      'spark.hadoop.fs.s3a.aws.credentials.provider',
      'spark.hadoop.fs.s3a.assumed.role.arn',
      'spark.kubernetes.driver.podTemplateFile',
      'spark.kubernetes.authenticate.driver.serviceAccountName',
      'spark.executorEnv.AWS_ROLE_ARN',
      'spark.hadoop.fs.s3a.secret.key',
    );
    fc.assert(
      fc.property(fc.uniqueArray(harmless), fc.uniqueArray(refused, { minLength: 1 }), (good, bad) => {
        // Prepare
        const conf = Object.fromEntries([...good, ...bad].map((key) => [key, '1']));

        // Act
        const problems = sparkConfProblems(conf);

        // Assess
        expect(problems.map((p) => p.key).sort()).toEqual([...bad].sort());
        for (const problem of problems)
          expect(problem.message.startsWith(`${problem.key} is not allowed`)).toBe(true);
      }),
    );
  });

  it('refuses every spark.kubernetes key outside labels and core requests', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z][\w.-]{0,40}$/), (suffix) => {
        const key = `spark.kubernetes.${suffix}`;
        const allowed = /^(driver|executor)\.(label\.[\w.-]+|request\.cores|limit\.cores)$/.test(suffix);
        expect(problemOf(key) === undefined).toBe(allowed);
      }),
    );
  });

  it('refuses any key that mentions a credential or a role, in any case', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z.]{0,10}$/),
        fc.constantFrom('credentials', 'Credential', 'role', 'ROLE', 'Role'),
        fc.stringMatching(/^[a-z.]{0,10}$/),
        (before, word, after) => {
          const key = `spark.${before}${word}${after}`;
          expect(problemOf(key)).toBeDefined();
        },
      ),
    );
  });
});
