/**
 * Spark conf keys a caller may not set, because they would let a job act as someone else:
 * credentials and credential providers, assumed or chosen roles, Kubernetes pod specs and
 * service accounts, Kerberos identities, identities passed through the environment, and
 * the master and deploy mode that decide which pod (and service account) runs the driver.
 * Libra's execution role comes from the pool, never from the request (DESIGN §7).
 */
interface DeniedKeyRule {
  readonly pattern: RegExp;
  readonly why: string;
}

/** Separators that spell one word in the many key styles (`access.key`, `access-key-id`, `accessKey`). */
const SEP = '[-._]?';

const DENIED_KEYS: readonly DeniedKeyRule[] = [
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
  { pattern: /^spark\.(master|submit\.deployMode)$/, why: 'chooses where the driver runs; Libra does' },
];

/** The only `spark.kubernetes.*` keys allowed: labels and CPU requests, nothing that shapes a pod's identity. */
const ALLOWED_KUBERNETES_KEYS =
  /^spark\.kubernetes\.(driver|executor)\.(label\.[\w.-]+|request\.cores|limit\.cores)$/;

/**
 * Keys are passed on as `--conf key=value` or written into a properties file: anything but
 * these characters could end the key early and smuggle in another one (a leading space is
 * dropped by a properties file, so ` spark.kubernetes.…` would slip past a prefix check).
 */
const KEY_CHARACTERS = /^[A-Za-z0-9._-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

export interface SparkConfProblem {
  readonly key: string;
  readonly message: string;
}

export function sparkConfProblems(conf: Readonly<Record<string, string>>): SparkConfProblem[] {
  const problems: SparkConfProblem[] = [];
  for (const [key, value] of Object.entries(conf)) {
    if (!KEY_CHARACTERS.test(key)) {
      problems.push({ key, message: `${key} is not allowed: keys are letters, digits, '.', '_' and '-'` });
      continue;
    }
    if (CONTROL_CHARACTERS.test(value)) {
      problems.push({ key, message: `${key} is not allowed: its value holds a control character` });
      continue;
    }
    if (key.startsWith('spark.kubernetes.')) {
      if (!ALLOWED_KUBERNETES_KEYS.test(key)) {
        problems.push({ key, message: `${key} is not allowed: it sets the pod spec` });
      }
      continue;
    }
    const rule = DENIED_KEYS.find((r) => r.pattern.test(key));
    if (rule) problems.push({ key, message: `${key} is not allowed: it ${rule.why}` });
  }
  return problems;
}
