import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAMILIES, sparkConfProblems } from '#core/spark-conf-policy.ts';

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
    'spark.kubernetes.executor.label.app-name',
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

  it('names what a Unicode look-alike key reads as once NFKC-folded', () => {
    const key = '\uff53park.kubernetes.driver.podTemplateFile';
    expectRefused(
      key,
      "keys are letters, digits, '.', '_' and '-' (it reads as spark.kubernetes.driver.podTemplateFile)",
    );
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

describe('Spark conf policy: the allow-list', () => {
  /** Accepted examples of every family: each family is shown to let something through. */
  const EXAMPLES: Readonly<Record<string, readonly [string, string][]>> = {
    sizing: [
      ['spark.executor.memory', '4g'],
      ['spark.driver.memoryOverheadFactor', '0.2'],
      ['spark.dynamicAllocation.maxExecutors', '8'],
    ],
    'Kubernetes pod labels and CPU requests': [
      ['spark.kubernetes.driver.label.team', 'etl'],
      ['spark.kubernetes.executor.request.cores', '500m'],
    ],
    'EMR Serverless worker disks': [
      ['spark.emr-serverless.executor.disk', '100g'],
      ['spark.emr-serverless.driver.disk.type', 'shuffle_optimized'],
    ],
    memory: [
      ['spark.memory.fraction', '0.7'],
      ['spark.memory.offHeap.enabled', 'false'],
      ['spark.cleaner.periodicGC.interval', '15min'],
    ],
    SQL: [
      ['spark.sql.shuffle.partitions', '400'],
      ['spark.sql.adaptive.enabled', 'true'],
      ['spark.sql.session.timeZone', 'UTC'],
    ],
    'catalogs (Delta, Iceberg, Hudi)': [
      ['spark.sql.extensions', 'io.delta.sql.DeltaSparkSessionExtension'],
      [
        'spark.sql.extensions',
        'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions,io.delta.sql.DeltaSparkSessionExtension',
      ],
      ['spark.sql.catalog.spark_catalog', 'org.apache.spark.sql.delta.catalog.DeltaCatalog'],
      ['spark.sql.catalog.lake', 'org.apache.iceberg.spark.SparkCatalog'],
      ['spark.sql.catalog.lake.catalog-impl', 'org.apache.iceberg.aws.glue.GlueCatalog'],
      ['spark.sql.catalog.lake.io-impl', 'org.apache.iceberg.aws.s3.S3FileIO'],
      ['spark.sql.catalog.lake.warehouse', 's3://bucket/warehouse/'],
      ['spark.sql.catalog.hudi', 'org.apache.spark.sql.hudi.catalog.HoodieCatalog'],
    ],
    'Delta settings': [['spark.databricks.delta.schema.autoMerge.enabled', 'true']],
    'shuffle and scheduling': [
      ['spark.shuffle.compress', 'true'],
      ['spark.default.parallelism', '64'],
      ['spark.locality.wait', '0s'],
    ],
    serializer: [
      ['spark.serializer', 'org.apache.spark.serializer.KryoSerializer'],
      ['spark.kryo.registrationRequired', 'false'],
      ['spark.kryoserializer.buffer.max', '512m'],
    ],
    'dynamic allocation': [['spark.dynamicAllocation.executorIdleTimeout', '60s']],
    UI: [['spark.ui.retainedJobs', '100']],
    speculation: [
      ['spark.speculation', 'true'],
      ['spark.speculation.quantile', '0.9'],
    ],
    'network timeouts': [
      ['spark.network.timeout', '300s'],
      ['spark.executor.heartbeatInterval', '20s'],
    ],
    'event log': [['spark.eventLog.rolling.enabled', 'true']],
    'application and Python': [
      ['spark.app.name', 'nightly'],
      ['spark.archives', 's3://bucket/venv.tar.gz#environment'],
      ['spark.submit.pyFiles', 's3://bucket/deps.zip'],
    ],
    environment: [['spark.executorEnv.PYSPARK_PYTHON', './environment/bin/python']],
    'EMR Serverless driver environment': [
      ['spark.emr-serverless.driverEnv.JAVA_HOME', '/usr/lib/jvm/java-17-amazon-corretto.x86_64'],
    ],
    'Hadoop and S3 tuning': [
      ['spark.hadoop.fs.s3a.connection.maximum', '200'],
      ['spark.hadoop.fs.s3a.bucket.my-bucket.endpoint.region', 'eu-west-1'],
      ['spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version', '2'],
      [
        'spark.hadoop.hive.metastore.client.factory.class',
        'com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory',
      ],
    ],
    'JVM options': [
      ['spark.driver.extraJavaOptions', '-XX:+UseG1GC -XX:MaxGCPauseMillis=200 -Dfile.encoding=UTF-8'],
      [
        'spark.executor.extraJavaOptions',
        '-Xss4m -Duser.timezone=UTC --add-opens=java.base/java.nio=ALL-UNNAMED',
      ],
      ['spark.executor.defaultJavaOptions', '-verbose:gc -XX:+HeapDumpOnOutOfMemoryError'],
    ],
  };

  it('has accepted examples for every family, each on the backends the family names', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(FAMILIES.map((family) => family.name).sort());
    for (const family of FAMILIES) {
      for (const [key, value] of EXAMPLES[family.name] ?? []) {
        expect(family.keys.test(key), `${key} belongs to ${family.name}`).toBe(true);
        for (const backend of family.backends) {
          expect(sparkConfProblems({ [key]: value }, backend), `${key} on ${backend}`).toEqual([]);
        }
        expect(sparkConfProblems({ [key]: value })).toEqual([]);
      }
    }
  });

  it.each([
    [
      'spark.kubernetes.driver.label.team',
      'emr-serverless',
      'it applies to eks only, and this job runs on emr-serverless',
    ],
    [
      'spark.emr-serverless.executor.disk',
      'eks',
      'it applies to emr-serverless only, and this job runs on eks',
    ],
    [
      'spark.emr-serverless.driverEnv.TZ',
      'eks',
      'it applies to emr-serverless only, and this job runs on eks',
    ],
  ] as const)('refuses %s on %s: its family is the other backend', (key, backend, reason) => {
    expect(sparkConfProblems({ [key]: '1' }, backend)).toEqual([
      { key, message: `${key} is not allowed: ${reason}` },
    ]);
  });

  it.each([
    'spark.plugins',
    'spark.extraListeners',
    'spark.custom.setting',
    'spark.driver.host',
    'spark.eventLog.dir',
    'spark.metrics.namespace',
    'spark.redaction.regex',
    'spark.ui.filters',
    'spark.shuffle.manager',
    'spark.hadoop.fs.s3a.endpoint',
    'spark.hadoop.fs.s3a.impl',
    'spark.hadoop.fs.AbstractFileSystem.s3a.impl',
    'spark.emr-serverless.lakeformation.enabled',
    'hadoop.fs.s3a.access.point',
    'SPARK.SQL.SHUFFLE.PARTITIONS',
    'Spark.executor.memory',
  ])('refuses %s: it is in no allowed family', (key) => {
    expectRefused(key, 'it is in none of the allowed families (docs/spark-conf.md)');
  });

  it.each([
    'spark.jars',
    'spark.jars.packages',
    'spark.jars.repositories',
    'spark.jars.ivySettings',
    'spark.repositories',
    'spark.driver.extraClassPath',
    'spark.executor.extraClassPath',
    'spark.driver.extraLibraryPath',
    'spark.driver.userClassPathFirst',
    'spark.driver.resource.gpu.discoveryScript',
    'spark.sql.hive.metastore.jars',
    'spark.sql.hive.metastore.jars.path',
    'spark.sql.hive.metastore.sharedPrefixes',
  ])('refuses %s: it puts code on the class path', (key) => {
    expectRefused(key, "it puts code on the JVM's class path before the job's own code runs");
  });

  it.each([
    'spark.authenticate',
    'spark.authenticate.secret.file',
    'spark.network.crypto.enabled',
    'spark.ssl.enabled',
    'spark.acls.enable',
    'spark.io.encryption.enabled',
  ])("refuses %s: it changes Spark's own security", (key) => {
    expectRefused(key, "it changes Spark's own authentication, encryption or access control");
  });

  it.each(['spark.yarn.queue', 'spark.yarn.dist.jars'])('refuses %s: YARN', (key) => {
    expectRefused(key, 'it configures YARN, which Libra does not run on');
  });

  it.each([
    'spark.sql.queryExecutionListeners',
    'spark.sql.streaming.streamingQueryListeners',
    'spark.sql.redaction.options.regex',
    'spark.sql.redaction.string.regex',
    'spark.sql.sources.commitProtocolClass',
  ])('refuses %s: it loads a class or unmasks values', (key) => {
    expectRefused(key, 'it loads a class, sees every query or unmasks redacted values');
  });

  it.each([
    ['spark.sql.extensions', 'com.evil.Extension', 'spark.sql.extensions must be among'],
    [
      'spark.sql.extensions',
      'io.delta.sql.DeltaSparkSessionExtension,com.evil.X',
      'spark.sql.extensions must be among',
    ],
    ['spark.sql.catalog.lake', 'com.evil.Catalog', 'a catalog class must be one of'],
    ['spark.sql.catalog.lake.io-impl', 'com.evil.FileIO', 'io-impl must be one of'],
    ['spark.sql.catalog.lake.IO-IMPL', 'com.evil.FileIO', 'io-impl must be one of'],
    ['spark.sql.catalog.lake.io-impl', 'org.apache.iceberg.aws.glue.GlueCatalog', 'io-impl must be one of'],
    ['spark.sql.catalog.lake.lock-impl', 'org.apache.iceberg.aws.s3.S3FileIO', 'lock-impl must be one of'],
    ['spark.sql.catalog.lake.Catalog-Impl', 'com.evil.Catalog', 'catalog-impl must be one of'],
    [
      'spark.sql.catalog.lake.client.factory',
      'org.apache.iceberg.aws.AssumeRoleAwsClientFactory',
      'it loads a class',
    ],
    ['spark.sql.catalog.lake.Client.Factory', 'x', 'it loads a class'],
    ['spark.sql.catalog.lake.metrics-reporter-impl', 'x', 'the catalog option metrics-reporter-impl'],
    ['spark.serializer', 'com.evil.Serializer', 'spark.serializer must be one of'],
    ['spark.hadoop.hive.metastore.client.factory.class', 'com.evil.Factory', 'must be one of'],
  ])('refuses %s = %s: the value names a class outside the known ones', (key, value, reason) => {
    const problem = problemOf(key, value);
    expect(problem?.message).toContain(reason);
  });

  it.each([
    'LD_PRELOAD',
    'JAVA_TOOL_OPTIONS',
    '_JAVA_OPTIONS',
    'JDK_JAVA_OPTIONS',
    'PATH',
    'PYTHONSTARTUP',
    'SPARK_CONF_DIR',
  ])('refuses the variable %s for executors and the EMR Serverless driver', (name) => {
    expect(problemOf(`spark.executorEnv.${name}`)?.message).toContain('only the variables');
    expect(problemOf(`spark.emr-serverless.driverEnv.${name}`)?.message).toContain('only the variables');
  });

  it.each([
    'app.kubernetes.io/name',
    'app.kubernetes.io_name',
    'eks.amazonaws.com-role',
    'spark-role',
    'emr-containers.x',
  ])('refuses the reserved label %s', (label) => {
    const problem = problemOf(`spark.kubernetes.driver.label.${label}`);
    expect(problem).toBeDefined();
  });
});

describe('Spark conf policy: JVM options', () => {
  const OPTION_KEYS = [
    'spark.driver.extraJavaOptions',
    'spark.executor.extraJavaOptions',
    'spark.driver.defaultJavaOptions',
    'spark.executor.defaultJavaOptions',
  ];

  it('refuses the bypasses that a deny-list let through', () => {
    expect(
      sparkConfProblems({
        'spark.driver.extraJavaOptions':
          '-Dspark.kubernetes.executor.podTemplateFile=s3://x/pod.yaml -Dspark.hadoop.fs.s3a.aws.credentials.provider=com.example.Steal',
        'spark.executor.extraJavaOptions':
          '-Dspark.kubernetes.authenticate.executor.serviceAccountName=admin',
      }),
    ).toEqual([
      {
        key: 'spark.driver.extraJavaOptions',
        message: expect.stringContaining(
          'spark.driver.extraJavaOptions is not allowed: -Dspark.kubernetes.executor.podTemplateFile=s3://x/pod.yaml: sets the system property spark.kubernetes.executor.podTemplateFile',
        ),
      },
      {
        key: 'spark.executor.extraJavaOptions',
        message: expect.stringContaining(
          'sets the system property spark.kubernetes.authenticate.executor.serviceAccountName',
        ),
      },
    ]);
  });

  it.each([
    ['-javaagent:/tmp/agent.jar', 'is not an allowed JVM option'],
    ['-agentlib:jdwp=transport=dt_socket,server=y', 'is not an allowed JVM option'],
    ['-agentpath:/tmp/libagent.so', 'is not an allowed JVM option'],
    ['-Xbootclasspath/a:/tmp/evil.jar', 'is not an allowed JVM option'],
    ['-XX:OnOutOfMemoryError=curl evil', 'runs a command'],
    ['-XX:OnError=sh', 'runs a command'],
    ['-XX:Flags=/tmp/flags', 'reads a file'],
    ['-XX:+UnlockDiagnosticVMOptions', 'unlocks flags'],
    ['@/tmp/args', 'is not an allowed JVM option'],
    ['-cp /tmp/evil.jar', 'is not an allowed JVM option'],
    ['-Djava.security.manager=allow', 'sets the system property java.security.manager'],
    ['-Djava.security.policy==/tmp/all.policy', 'sets the system property java.security.policy'],
    ['-Daws.accessKeyId=AKIA', 'sets the system property aws.accessKeyId'],
    ['-Dlog4j2.configurationFile=http://evil/x.xml', 'sets the system property log4j2.configurationFile'],
    ['-D"spark.kubernetes.namespace"=x', 'quotes and backslashes'],
    ["'-Dspark.master=local'", 'quotes and backslashes'],
    ['-Dspark\\.master=local', 'quotes and backslashes'],
    ['-Xmx64g', 'heap sizes come from'],
    ['-Dfile.encoding=UTF-8\u00a0-javaagent:/tmp/a.jar', 'printable ASCII'],
    ['-XX:+UseG1GC\u2003-Dspark.master=local', 'printable ASCII'],
  ])('refuses %s', (options, reason) => {
    for (const key of OPTION_KEYS) expect(problemOf(key, options)?.message).toContain(reason);
  });
});

describe('Spark conf policy: dangerous families cannot slip through (property)', () => {
  /** Keys from every family that sets an identity, a pod spec, credentials or class path. */
  const DANGEROUS = [
    'spark.kubernetes.driver.podTemplateFile',
    'spark.kubernetes.executor.podTemplateFile',
    'spark.kubernetes.driver.podTemplateContainerName',
    'spark.kubernetes.authenticate.driver.serviceAccountName',
    'spark.kubernetes.authenticate.executor.serviceAccountName',
    'spark.kubernetes.namespace',
    'spark.kubernetes.container.image',
    'spark.kubernetes.driver.annotation.eks.amazonaws.com/role-arn',
    'spark.kubernetes.driverEnv.AWS_ROLE_ARN',
    'spark.hadoop.fs.s3a.aws.credentials.provider',
    'spark.hadoop.fs.s3a.bucket.b.aws.credentials.provider',
    'spark.hadoop.fs.s3a.assumed.role.arn',
    'spark.hadoop.fs.s3a.assumed.role.sts.endpoint',
    'spark.hadoop.fs.s3a.access.key',
    'spark.hadoop.fs.s3a.secret.key',
    'spark.yarn.keytab',
    'spark.yarn.principal',
    'spark.kerberos.keytab',
    'spark.kerberos.principal',
    'spark.authenticate',
    'spark.authenticate.secret',
    'spark.driver.extraClassPath',
    'spark.executor.extraClassPath',
    'spark.jars',
    'spark.jars.packages',
    'spark.jars.repositories',
    'spark.executorEnv.AWS_ACCESS_KEY_ID',
    'spark.executorEnv.JAVA_TOOL_OPTIONS',
    'spark.executorEnv.LD_PRELOAD',
    'spark.emr-serverless.driverEnv.AWS_ROLE_ARN',
    'spark.emr-serverless.driverEnv.JAVA_TOOL_OPTIONS',
    'spark.emr-serverless.executionRoleArn',
    'spark.emr-serverless.driver.memory',
    'spark.sql.hive.metastore.jars',
    'spark.sql.catalog.lake.client.assume-role.arn',
    'spark.sql.catalog.lake.client.credentials-provider',
    'spark.master',
    'spark.submit.deployMode',
    'spark.plugins',
    'spark.extraListeners',
  ];
  const OPTION_KEYS = [
    'spark.driver.extraJavaOptions',
    'spark.executor.extraJavaOptions',
    'spark.driver.defaultJavaOptions',
    'spark.executor.defaultJavaOptions',
  ];
  /** Characters NFKC folds onto ASCII key characters: full-width letters and a few compatibility forms. */
  const LOOK_ALIKES: Readonly<Record<string, string>> = {
    s: '\uff53',
    p: '\uff50',
    a: '\uff41',
    k: '\u212a',
    '.': '\uff0e',
    '-': '\ufe63',
    e: '\uff45',
    r: '\uff52',
  };
  const caseVariant = (key: string, flips: readonly boolean[]) =>
    [...key].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');

  const variant = fc
    .record({
      key: fc.constantFrom(...DANGEROUS),
      flips: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      kase: fc.boolean(),
      before: fc.constantFrom('', ' ', '\t', '\u00a0', '\u3000', '\n'),
      after: fc.constantFrom('', ' ', '\t', '\u00a0', '\u200b', '\r'),
      lookAlike: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ key, flips, kase, before, after, lookAlike }) => {
      let spelled = kase ? caseVariant(key, flips) : key;
      if (lookAlike !== undefined) {
        const positions = [...spelled].flatMap((c, i) => (LOOK_ALIKES[c] ? [i] : []));
        const at = positions[lookAlike % positions.length];
        if (at !== undefined) {
          const chars = [...spelled];
          chars[at] = LOOK_ALIKES[chars[at] ?? ''] ?? '';
          spelled = chars.join('');
        }
      }
      return `${before}${spelled}${after}`;
    });
  const backend = fc.constantFrom(undefined, 'emr-serverless' as const, 'eks' as const);

  it('refuses every dangerous key, in any case, with whitespace and look-alikes, on either backend', () => {
    fc.assert(
      fc.property(variant, backend, (key, on) => {
        const problems = sparkConfProblems({ [key]: 'x' }, on);
        expect(problems).toHaveLength(1);
        expect(problems[0]?.message.startsWith(`${key} is not allowed: `)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses every dangerous key set through -D in any JVM option key, among harmless options', () => {
    const harmless = fc.constantFrom('', '-XX:+UseG1GC', '-Dfile.encoding=UTF-8', '-verbose:gc', '-Xss4m');
    fc.assert(
      fc.property(
        fc.constantFrom(...OPTION_KEYS),
        variant,
        harmless,
        harmless,
        fc.constantFrom('x', 's3://x/pod.yaml', 'admin', ''),
        backend,
        (optionKey, key, first, last, value, on) => {
          const options = `${first} -D${key.trim()}=${value} ${last}`;
          const problems = sparkConfProblems({ [optionKey]: options }, on);
          expect(problems).toHaveLength(1);
          expect(problems[0]?.key).toBe(optionKey);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('docs/spark-conf.md', () => {
  it('lists every family of the policy, and no other', () => {
    const doc = readFileSync(new URL('../../docs/spark-conf.md', import.meta.url), 'utf8');
    const section = doc.split('## Allowed families')[1]?.split('\n## ')[0] ?? '';
    const listed = [...section.matchAll(/^\| ([^|]+?) \| (both|EMR on EKS|EMR Serverless) \|/gm)].map((m) => [
      m[1],
      m[2],
    ]);
    const label = (backends: readonly string[]) =>
      backends.length === 2 ? 'both' : backends[0] === 'eks' ? 'EMR on EKS' : 'EMR Serverless';
    expect(listed).toEqual(FAMILIES.map((family) => [family.name, label(family.backends)]));
  });
});
