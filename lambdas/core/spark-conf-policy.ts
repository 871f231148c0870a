/**
 * Spark conf keys a caller may not set, because they would let a job act as someone else:
 * credentials and credential providers, assumed or chosen roles, Kubernetes pod specs and
 * service accounts, Kerberos identities, and AWS credentials passed through the environment.
 * Libra's execution role comes from the pool, never from the request (DESIGN §7).
 */
interface DeniedKeyRule {
  readonly pattern: RegExp;
  readonly why: string;
}

const DENIED_KEYS: readonly DeniedKeyRule[] = [
  { pattern: /credential/i, why: 'sets credentials or a credentials provider' },
  { pattern: /\.assumed\.role\./i, why: 'assumes another role' },
  { pattern: /role/i, why: 'chooses a role; roles come from the pool' },
  {
    pattern: /(^|\.)(access\.key|secret\.key|session\.token|awsAccessKeyId|awsSecretAccessKey)$/i,
    why: 'sets AWS credentials',
  },
  { pattern: /(^|\.)(keytab|principal)$/i, why: 'sets a Kerberos identity' },
  { pattern: /^spark\.kerberos\./i, why: 'sets a Kerberos identity' },
  {
    pattern:
      /^spark\.(executorEnv|yarn\.appMasterEnv|kubernetes\.driverEnv|emr-serverless\.driverEnv)\.AWS_/i,
    why: 'passes AWS settings through the environment',
  },
];

/** The only `spark.kubernetes.*` keys allowed: labels and CPU requests, nothing that shapes a pod's identity. */
const ALLOWED_KUBERNETES_KEYS =
  /^spark\.kubernetes\.(driver|executor)\.(label\.[\w.-]+|request\.cores|limit\.cores)$/;

export interface SparkConfProblem {
  readonly key: string;
  readonly message: string;
}

export function sparkConfProblems(conf: Readonly<Record<string, string>>): SparkConfProblem[] {
  const problems: SparkConfProblem[] = [];
  for (const key of Object.keys(conf)) {
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
