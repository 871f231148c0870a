import { SIZING_KEYS } from './sizing.ts';

/**
 * Which Spark conf keys a caller may set: an allow-list of key families per backend, every other
 * key refused with the reason (docs/spark-conf.md lists the families and why each is there).
 *
 * A job runs as its pool's execution role and, on EMR on EKS, in the pool's pods (DESIGN §7). The
 * keys refused first, with their own reason, are the ones that would let a job act as someone
 * else or change where and how it runs: credentials and credential providers, roles, web and
 * Kerberos identities, identity through the environment, pod specs and service accounts, the
 * master and deploy mode, and code put on the JVM's class path before the job's own code runs.
 * JVM options may set only a few plain Java system properties (no `-Dspark.…`, `-Dfs.…`,
 * `-Daws.…`: SparkConf reads `-Dspark.*` system properties as conf keys, which is how a deny-list
 * was bypassed) and no agents, boot class path, argument files or commands run on errors.
 *
 * Spark and Hadoop read their keys case-sensitively, so an allowed key is matched exactly: a case
 * variant of an allowed key is not what Spark reads, and is refused. The refusal rules, though,
 * match in any case, and catalog options (which Spark hands to catalogs as a case-insensitive map)
 * are compared in lower case. Keys are plain ASCII: a space, a control character or a Unicode
 * look-alike (`ｓpark.kubernetes…`, which NFKC folds to `spark.kubernetes…`) is refused outright.
 */

export type ConfBackend = 'emr-serverless' | 'eks';
const BOTH: readonly ConfBackend[] = ['emr-serverless', 'eks'];

export interface SparkConfProblem {
  readonly key: string;
  readonly message: string;
}

interface RefusedKeyRule {
  readonly pattern: RegExp;
  readonly why: string;
}

/** Separators that spell one word in the many key styles (`access.key`, `access-key-id`, `accessKey`). */
const SEP = '[-._]?';

/** Keys refused wherever they appear, in any case, each with its reason. */
const REFUSED_KEYS: readonly RefusedKeyRule[] = [
  // spark.executorEnv, spark.yarn.appMasterEnv, spark.emr-serverless.driverEnv and any other *Env.
  {
    pattern: /env\.(AWS_|HADOOP_USER_NAME$|HADOOP_PROXY_USER$|HADOOP_TOKEN_FILE_LOCATION$|KRB5CCNAME$)/i,
    why: 'passes an identity through the environment',
  },
  { pattern: /credential/i, why: 'sets credentials or a credentials provider' },
  { pattern: /role/i, why: 'chooses a role; roles come from the pool' },
  { pattern: new RegExp(`web${SEP}identity`, 'i'), why: 'chooses a web identity' },
  {
    pattern: new RegExp(
      `(access${SEP}key|secret${SEP}(access${SEP})?key|session${SEP}token|(^|[-._])token$|password)`,
      'i',
    ),
    why: 'sets credentials',
  },
  { pattern: /(^|\.)(keytab|principal)$/i, why: 'sets a Kerberos identity' },
  { pattern: /^spark\.kerberos\./i, why: 'sets a Kerberos identity' },
  { pattern: /^spark\.(master|submit\.deployMode)$/i, why: 'chooses where the driver runs; Libra does' },
  {
    pattern:
      /^spark\.(authenticate|network\.crypto|io\.encryption|ssl|acls|admin\.acls|modify\.acls|ui\.view\.acls)/i,
    why: "changes Spark's own authentication, encryption or access control",
  },
  {
    pattern:
      /^spark\.(jars|repositories|(driver|executor)\.(extraClassPath|extraLibraryPath|userClassPathFirst)|driver\.resource|executor\.resource|sql\.hive\.metastore\.)/i,
    why: "puts code on the JVM's class path before the job's own code runs",
  },
  { pattern: /^spark\.yarn\./i, why: 'configures YARN, which Libra does not run on' },
];

/** The only `spark.kubernetes.*` keys: pod labels and CPU requests, nothing that shapes a pod's identity. */
const KUBERNETES_ALLOWED =
  /^spark\.kubernetes\.(driver|executor)\.(label\.[\w.-]+|request\.cores|limit\.cores)$/;
/** Label names Kubernetes, EKS, EMR and Spark itself use to select pods; a job may not claim them. */
const RESERVED_LABEL = /(kubernetes\.io|k8s\.io|amazonaws\.com|^spark-|^emr-)/i;

/** Variables a job may set for its driver or executors: interpreters, Java home, time zone and locale. */
const ENV_ALLOWED = new Set(['PYSPARK_PYTHON', 'PYSPARK_DRIVER_PYTHON', 'JAVA_HOME', 'TZ', 'LANG', 'LC_ALL']);

/** Java system properties a JVM option may set: encodings, locale, time zone, IP stack, headless. */
const SYSTEM_PROPERTIES_ALLOWED = new Set([
  'file.encoding',
  'sun.jnu.encoding',
  'user.timezone',
  'user.language',
  'user.country',
  'user.region',
  'java.net.preferIPv4Stack',
  'java.net.preferIPv6Addresses',
  'java.awt.headless',
]);

/** `-XX:` flags that run a command, read more flags from a file or unlock unsupported ones. */
const XX_REFUSED = new Set([
  'OnOutOfMemoryError',
  'OnError',
  'Flags',
  'VMOptionsFile',
  'CompileCommandFile',
  'CompileCommand',
  'UnlockDiagnosticVMOptions',
  'UnlockExperimentalVMOptions',
  'EnableDynamicAgentLoading',
]);

/** Classes `spark.sql.extensions` may name: the Delta, Iceberg and Hudi session extensions. */
const KNOWN_EXTENSIONS = new Set([
  'io.delta.sql.DeltaSparkSessionExtension',
  'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
  'org.apache.spark.sql.hudi.HoodieSparkSessionExtension',
]);

/** Classes `spark.sql.catalog.<name>` may name: the Delta, Iceberg and Hudi catalogs. */
const KNOWN_CATALOGS = new Set([
  'org.apache.iceberg.spark.SparkCatalog',
  'org.apache.iceberg.spark.SparkSessionCatalog',
  'org.apache.spark.sql.delta.catalog.DeltaCatalog',
  'org.apache.spark.sql.hudi.catalog.HoodieCatalog',
]);

/** Options of a catalog (`spark.sql.catalog.<name>.<option>`), compared in lower case. */
const CATALOG_OPTIONS =
  /^(type|warehouse|uri|default-namespace|cache-enabled|cache\.expiration-interval-ms|catalog-impl|io-impl|glue\.id|glue\.skip-archive|glue\.skip-name-validation|lock-impl|lock\.table|client\.region|s3\.(endpoint|path-style-access|sse\.type|sse\.key|multipart\.[\w.-]+|write\.tags\.[\w.-]+|delete-enabled|preload-client-enabled)|table-default\.[\w.-]+|table-override\.[\w.-]+)$/;

/** Iceberg implementations a catalog may name, by option. */
const KNOWN_CATALOG_IMPLS: Readonly<Record<string, ReadonlySet<string>>> = {
  'catalog-impl': new Set([
    'org.apache.iceberg.aws.glue.GlueCatalog',
    'org.apache.iceberg.hive.HiveCatalog',
    'org.apache.iceberg.hadoop.HadoopCatalog',
    'org.apache.iceberg.rest.RESTCatalog',
    'org.apache.iceberg.aws.dynamodb.DynamoDbCatalog',
  ]),
  'io-impl': new Set([
    'org.apache.iceberg.aws.s3.S3FileIO',
    'org.apache.iceberg.hadoop.HadoopFileIO',
    'org.apache.iceberg.io.ResolvingFileIO',
  ]),
  'lock-impl': new Set(['org.apache.iceberg.aws.dynamodb.DynamoDbLockManager']),
};

/** `spark.sql.*` keys that load a class, listen to every query or unmask redacted values. */
const SQL_REFUSED =
  /^spark\.sql\.(queryExecutionListeners|streaming\.streamingQueryListeners|redaction\.|sources\.commitProtocolClass|parquet\.output\.committer\.class|streaming\.stateStore\.providerClass|catalog\.[^.]+\.(client\.factory|client\.assume-role|rest\.|auth\.|oauth2|header\.))/i;

/** Hadoop tuning keys (after `spark.hadoop.`) that change no identity, endpoint or class. */
const HADOOP_TUNING = String.raw`(fast\.upload(\.[\w.-]+)?|multipart\.[\w.-]+|block\.size|readahead\.range|connection\.(maximum|timeout|establish\.timeout)|threads\.(max|keepalivetime)|max\.total\.tasks|attempts\.maximum|retry\.[\w.-]+|experimental\.input\.fadvise|input\.fadvise|endpoint\.region|path\.style\.access|committer\.[\w.-]+|directory\.marker\.retention)`;
const HADOOP_ALLOWED = new RegExp(
  String.raw`^spark\.hadoop\.(fs\.s3a\.(bucket\.[a-z0-9.-]+\.)?${HADOOP_TUNING}|fs\.s3\.(maxConnections|maxRetries|consistent\.[\w.-]+)|mapreduce\.fileoutputcommitter\.[\w.-]+|parquet\.[\w.-]+|hive\.metastore\.client\.factory\.class)$`,
);
const GLUE_METASTORE_FACTORY = 'com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory';

type ValueCheck = (value: string, key: string) => string | undefined;

interface Family {
  readonly name: string;
  readonly backends: readonly ConfBackend[];
  readonly keys: RegExp;
  /** The reason a value is refused, or undefined when it is fine. */
  readonly value?: ValueCheck;
}

const oneOf =
  (allowed: ReadonlySet<string>, what: string): ValueCheck =>
  (value) =>
    allowed.has(value.trim()) ? undefined : `${what} must be one of ${[...allowed].join(', ')}`;

const listOf =
  (allowed: ReadonlySet<string>, what: string): ValueCheck =>
  (value) => {
    const unknown = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => !allowed.has(item));
    return unknown.length === 0 ? undefined : `${what} must be among ${[...allowed].join(', ')}`;
  };

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (keys: readonly string[]) => new RegExp(`^(${keys.map(escapeRegExp).join('|')})$`);

/** The families, in the order docs/spark-conf.md lists them. */
export const FAMILIES: readonly Family[] = [
  {
    name: 'sizing',
    backends: BOTH,
    keys: exactly([
      ...SIZING_KEYS,
      'spark.driver.memoryOverheadFactor',
      'spark.executor.memoryOverheadFactor',
      'spark.driver.maxResultSize',
    ]),
  },
  { name: 'Kubernetes pod labels and CPU requests', backends: ['eks'], keys: KUBERNETES_ALLOWED },
  {
    name: 'EMR Serverless worker disks',
    backends: ['emr-serverless'],
    keys: /^spark\.emr-serverless\.(driver|executor)\.disk(\.type)?$/,
  },
  {
    name: 'memory',
    backends: BOTH,
    keys: /^spark\.(memory\.(fraction|storageFraction|offHeap\.(enabled|size))|storage\.(memoryMapThreshold|decommission\.[\w.]+|level)|cleaner\.[\w.]+|broadcast\.[\w.]+)$/,
  },
  {
    name: 'SQL',
    backends: BOTH,
    keys: /^spark\.sql\.(?!extensions$|catalog\.)[\w.-]+$/,
  },
  {
    name: 'catalogs (Delta, Iceberg, Hudi)',
    backends: BOTH,
    keys: /^spark\.sql\.(extensions|catalog\.[A-Za-z_][\w-]*(\.[\w.-]+)?)$/,
    value: catalogValue,
  },
  { name: 'Delta settings', backends: BOTH, keys: /^spark\.databricks\.delta\.[\w.-]+$/ },
  {
    name: 'shuffle and scheduling',
    backends: BOTH,
    keys: /^spark\.(shuffle\.(?!manager$|sort\.io\.plugin\.class$)[\w.-]+|reducer\.[\w.]+|default\.parallelism|files\.(maxPartitionBytes|openCostInBytes|fetchTimeout)|rdd\.compress|checkpoint\.compress|io\.compression\.[\w.]+|locality\.wait(\.\w+)?|scheduler\.(mode|minRegisteredResourcesRatio|maxRegisteredResourcesWaitingTime|listenerbus\.eventqueue\.[\w.]+)|task\.(cpus|maxFailures)|stage\.maxConsecutiveAttempts|excludeOnFailure\.[\w.]+|decommission\.enabled)$/,
  },
  {
    name: 'serializer',
    backends: BOTH,
    keys: /^spark\.(serializer(\.objectStreamReset)?|kryo\.[\w.]+|kryoserializer\.[\w.]+)$/,
    value: (value, key) =>
      key === 'spark.serializer'
        ? oneOf(
            new Set([
              'org.apache.spark.serializer.KryoSerializer',
              'org.apache.spark.serializer.JavaSerializer',
            ]),
            'spark.serializer',
          )(value, key)
        : undefined,
  },
  { name: 'dynamic allocation', backends: BOTH, keys: /^spark\.dynamicAllocation\.[\w.]+$/ },
  {
    name: 'UI',
    backends: BOTH,
    keys: /^spark\.ui\.(enabled|showConsoleProgress|retained\w+|liveUpdate\.[\w.]+|timeline\.[\w.]+|killEnabled|consoleProgress\.update\.interval)$/,
  },
  { name: 'speculation', backends: BOTH, keys: /^spark\.speculation(\.[\w.]+)?$/ },
  {
    name: 'network timeouts',
    backends: BOTH,
    keys: /^spark\.(network\.(timeout|timeoutInterval)|executor\.heartbeatInterval|rpc\.(askTimeout|lookupTimeout|message\.maxSize|numRetries|retry\.wait)|core\.connection\.ack\.wait\.timeout|storage\.blockManagerHeartbeatTimeoutMs)$/,
  },
  {
    name: 'event log',
    backends: BOTH,
    keys: /^spark\.eventLog\.(rolling\.[\w.]+|compress|compression\.codec|logStageExecutorMetrics)$/,
  },
  {
    name: 'application and Python',
    backends: BOTH,
    keys: /^spark\.(app\.name|log\.level|logConf|pyspark\.(driver\.)?python|python\.worker\.[\w.]+|archives|files|submit\.pyFiles|executor\.processTreeMetrics\.enabled)$/,
  },
  {
    name: 'environment',
    backends: BOTH,
    keys: /^spark\.executorEnv\.[A-Za-z_][A-Za-z0-9_]*$/,
    value: (_value, key) => envName(key),
  },
  {
    name: 'EMR Serverless driver environment',
    backends: ['emr-serverless'],
    keys: /^spark\.emr-serverless\.driverEnv\.[A-Za-z_][A-Za-z0-9_]*$/,
    value: (_value, key) => envName(key),
  },
  {
    name: 'Hadoop and S3 tuning',
    backends: BOTH,
    keys: HADOOP_ALLOWED,
    value: (value, key) =>
      key.endsWith('.hive.metastore.client.factory.class')
        ? oneOf(new Set([GLUE_METASTORE_FACTORY]), key)(value, key)
        : undefined,
  },
  {
    name: 'JVM options',
    backends: BOTH,
    keys: /^spark\.(driver|executor)\.(extra|default)JavaOptions$/,
    value: javaOptionsProblem,
  },
];

function envName(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('.') + 1);
  return ENV_ALLOWED.has(name)
    ? undefined
    : `only the variables ${[...ENV_ALLOWED].join(', ')} may be set; ${name} could change how the JVM or Python starts`;
}

function catalogValue(value: string, key: string): string | undefined {
  if (key === 'spark.sql.extensions') return listOf(KNOWN_EXTENSIONS, 'spark.sql.extensions')(value, key);
  const [, , , , ...option] = key.split('.');
  if (option.length === 0) return oneOf(KNOWN_CATALOGS, 'a catalog class')(value, key);
  // Spark hands a catalog its options as a case-insensitive map.
  const name = option.join('.').toLowerCase();
  if (!CATALOG_OPTIONS.test(name)) return `the catalog option ${name} is not among the allowed ones`;
  const impls = KNOWN_CATALOG_IMPLS[name];
  return impls === undefined ? undefined : oneOf(impls, name)(value, key);
}

/**
 * What is wrong with a JVM option string, if anything. Spark splits it on whitespace and strips
 * quotes and backslashes, so quotes and backslashes are refused: what is checked is then exactly
 * what the JVM gets.
 */
export function javaOptionsProblem(value: string): string | undefined {
  if (/["'\\]/.test(value)) return 'quotes and backslashes are not allowed in JVM options';
  // Java splits on whitespace by its own definition, not JavaScript's: with ASCII only, both split alike.
  if (/[^\x20-\x7e]/.test(value)) return 'JVM options are printable ASCII separated by spaces';
  for (const option of value.split(/\s+/).filter((part) => part !== '')) {
    const why = javaOptionProblem(option);
    if (why) return `${option}: ${why}`;
  }
  return undefined;
}

function javaOptionProblem(option: string): string | undefined {
  if (option.startsWith('-D')) {
    const name = option.slice(2).split('=')[0] ?? '';
    return SYSTEM_PROPERTIES_ALLOWED.has(name)
      ? undefined
      : `sets the system property ${name}; only ${[...SYSTEM_PROPERTIES_ALLOWED].join(', ')} may be set`;
  }
  const xx = /^-XX:([+-]?)([A-Za-z][A-Za-z0-9]*)(=\S*)?$/.exec(option);
  if (xx) {
    const name = xx[2] ?? '';
    return XX_REFUSED.has(name) ? `-XX:${name} runs a command, reads a file or unlocks flags` : undefined;
  }
  if (/^-X(mx|ms)/.test(option)) return 'heap sizes come from spark.driver.memory and spark.executor.memory';
  if (
    /^(-Xss\d+[kmg]?|-Xlog:\S+|-verbose:(gc|class)|-(ea|da|esa|dsa)(:\S+)?|-server|--add-(opens|exports)=[\w./]+=ALL-UNNAMED)$/.test(
      option,
    )
  ) {
    return undefined;
  }
  return 'is not an allowed JVM option (agents, class paths, argument files and the like are refused)';
}

/**
 * Keys are passed on as `--conf key=value` or written into a properties file: anything but
 * these characters could end the key early and smuggle in another one (a leading space is
 * dropped by a properties file, so ` spark.kubernetes.…` would slip past a prefix check).
 */
const KEY_CHARACTERS = /^[A-Za-z0-9._-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Where the job's pods come from on EKS: refused as the pod spec, whatever the case. */
const KUBERNETES_PREFIX = /^spark\.kubernetes\./i;

/** The problem with one key, or undefined when `backend` (either backend, when undefined) allows it. */
function keyProblem(key: string, value: string, backend: ConfBackend | undefined): string | undefined {
  if (!KEY_CHARACTERS.test(key)) {
    const folded = key.normalize('NFKC');
    const looksLike =
      folded !== key && KEY_CHARACTERS.test(folded.trim()) ? ` (it reads as ${folded.trim()})` : '';
    return `keys are letters, digits, '.', '_' and '-'${looksLike}`;
  }
  if (CONTROL_CHARACTERS.test(value)) return 'its value holds a control character';
  if (KUBERNETES_PREFIX.test(key)) {
    if (!KUBERNETES_ALLOWED.test(key)) return 'it sets the pod spec';
    const label = /\.label\.(.+)$/.exec(key)?.[1];
    if (label !== undefined && RESERVED_LABEL.test(label)) {
      return 'it sets a label Kubernetes, EKS, EMR or Spark selects pods by';
    }
  } else {
    const rule = REFUSED_KEYS.find((r) => r.pattern.test(key));
    if (rule) return `it ${rule.why}`;
    if (/^spark\.emr-serverless\.((driver|executor)\.(cores|memory)|memoryOverheadFactor)$/i.test(key)) {
      return 'Libra sizes workers from spark.driver.* and spark.executor.*; set those';
    }
    if (SQL_REFUSED.test(key)) return 'it loads a class, sees every query or unmasks redacted values';
  }
  const families = FAMILIES.filter((family) => family.keys.test(key));
  if (families.length === 0) return 'it is in none of the allowed families (docs/spark-conf.md)';
  const usable = families.filter((family) => backend === undefined || family.backends.includes(backend));
  if (usable.length === 0) {
    const where = families.flatMap((family) => family.backends).join(' and ');
    return `it applies to ${where} only, and this job runs on ${backend}`;
  }
  for (const family of usable) {
    const why = family.value?.(value, key);
    if (why) return why;
  }
  return undefined;
}

/**
 * Every key of `conf` the policy refuses, each with its reason. Without `backend`, a key passes
 * when either backend allows it (the request is checked before placement chooses one).
 */
export function sparkConfProblems(
  conf: Readonly<Record<string, string>>,
  backend?: ConfBackend,
): SparkConfProblem[] {
  const problems: SparkConfProblem[] = [];
  for (const [key, value] of Object.entries(conf)) {
    const why = keyProblem(key, value, backend);
    if (why) problems.push({ key, message: `${key} is not allowed: ${why}` });
  }
  return problems;
}
