import type { FieldProblem } from './errors.ts';

/**
 * What a job can use at most, from its Spark conf: the reservation admission counts
 * (DESIGN §4). The original Libra's ResourceCalculator read cores and memory; this one also
 * counts memory overhead and caps dynamic allocation, and returns the conf Libra submits so
 * that the job can never outgrow its reservation.
 */

/** Spark's own defaults, written into every job so the backend's (larger) defaults never apply. */
export const SPARK_DEFAULTS = {
  driverCores: 1,
  driverMemoryMiB: 1024,
  executorCores: 1,
  executorMemoryMiB: 1024,
  executorInstances: 2,
} as const;

/**
 * The keys sizing pins: what admission counted. They go on the spark-submit command line, where
 * they win over any spark-defaults, so the job runs with exactly what it was admitted for.
 */
export const SIZING_KEYS = [
  'spark.driver.cores',
  'spark.driver.memory',
  'spark.driver.memoryOverhead',
  'spark.executor.cores',
  'spark.executor.memory',
  'spark.executor.memoryOverhead',
  'spark.executor.pyspark.memory',
  'spark.memory.offHeap.enabled',
  'spark.memory.offHeap.size',
  'spark.dynamicAllocation.enabled',
  'spark.dynamicAllocation.minExecutors',
  'spark.dynamicAllocation.initialExecutors',
  'spark.dynamicAllocation.maxExecutors',
  'spark.executor.instances',
] as const;

/** Spark's default overhead: max(384 MiB, 10 % of the heap), unless set. */
export const MIN_OVERHEAD_MIB = 384;
export const DEFAULT_OVERHEAD_FACTOR = 0.1;

const UNIT_MIB: Readonly<Record<string, number>> = {
  b: 1 / (1024 * 1024),
  k: 1 / 1024,
  kb: 1 / 1024,
  m: 1,
  mb: 1,
  g: 1024,
  gb: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
};

/**
 * A JVM memory string in MiB: `2g`, `2048m`, `2048000k`, `1t` (also `gb`, `mb`, `kb`, `tb`, `b`),
 * case-insensitive. A bare number means MiB, as Spark reads spark.*.memory, unless `bareUnit`
 * says otherwise (Spark reads spark.memory.offHeap.size in bytes). Rounded up.
 */
export function parseMemoryMiB(value: string, bareUnit: 'b' | 'm' = 'm'): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]{0,2})\s*$/i.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase();
  const factor = UNIT_MIB[unit === '' ? bareUnit : unit];
  if (factor === undefined) return undefined;
  const mib = Math.ceil(amount * factor);
  // Beyond this a number no longer prints as digits (1e+21), so it could not be written back.
  return Number.isSafeInteger(mib) ? mib : undefined;
}

export interface ProcessSize {
  readonly cores: number;
  /** Heap. */
  readonly memoryMiB: number;
  readonly overheadMiB: number;
  /**
   * What the container holds: heap + overhead, and for executors also off-heap memory (when
   * enabled) and PySpark worker memory (when set), as Spark sizes its containers.
   */
  readonly totalMemoryMiB: number;
}

export interface Resources {
  readonly driver: ProcessSize;
  readonly executor: ProcessSize;
  /** Executors counted: `spark.executor.instances`, or the dynamic-allocation maximum. */
  readonly executors: number;
  readonly dynamicAllocation: boolean;
  readonly totalCores: number;
  readonly totalMemoryMiB: number;
}

export interface Sizing {
  readonly resources: Resources;
  /** The caller's conf with every sizing key Libra counted written in. */
  readonly sparkConf: Record<string, string>;
}

export type SizingResult = { ok: true; sizing: Sizing } | { ok: false; errors: FieldProblem[] };

export interface SizingOptions {
  /** Executors counted for a dynamic-allocation job that names no maximum (from the pool). */
  readonly defaultMaxExecutors: number;
}

const MAX_CORES_PER_PROCESS = 64;
/** 1 TiB: larger than any worker or node Libra runs on; a bigger figure is a typo. */
const MAX_MEMORY_MIB_PER_PROCESS = 1024 * 1024;
const MAX_EXECUTORS = 10_000;

/**
 * EMR Serverless's own worker-size keys: it would size workers from them, past what Libra
 * counted from the Spark keys.
 */
const BACKEND_SIZING_KEYS = [
  'spark.emr-serverless.driver.cores',
  'spark.emr-serverless.driver.memory',
  'spark.emr-serverless.executor.cores',
  'spark.emr-serverless.executor.memory',
  'spark.emr-serverless.memoryOverheadFactor',
] as const;

/** A Kubernetes CPU quantity: `2`, `0.5`, `500m`. */
function parseCpuQuantity(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  return match[2] === 'm' ? amount / 1000 : amount;
}

/**
 * Reads sizing keys from a job's conf, each with its bounds; a value out of them is recorded as a
 * field problem and read as the fallback, so that one pass reports every problem at once.
 */
class ConfReader {
  readonly errors: FieldProblem[] = [];
  readonly conf: Readonly<Record<string, string>>;

  constructor(conf: Readonly<Record<string, string>>) {
    this.conf = conf;
  }

  has(key: string): boolean {
    return this.conf[key] !== undefined;
  }

  problem(key: string, message: string): void {
    this.errors.push({ field: `sparkConf.${key}`, message });
  }

  int(key: string, fallback: number, min: number, max: number): number {
    const raw = this.conf[key];
    if (raw === undefined) return fallback;
    if (!/^\s*\d+\s*$/.test(raw)) {
      this.problem(key, `must be a whole number, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      this.problem(key, `must be between ${min} and ${max}, got ${value}`);
      return fallback;
    }
    return value;
  }

  memory(key: string, fallbackMiB: number, bareUnit: 'b' | 'm' = 'm'): number {
    const raw = this.conf[key];
    if (raw === undefined) return fallbackMiB;
    const mib = parseMemoryMiB(raw, bareUnit);
    if (mib === undefined || mib <= 0 || mib > MAX_MEMORY_MIB_PER_PROCESS) {
      this.problem(key, `must be a memory size from 1m to 1t such as 2g, 2048m or 2048000k, got "${raw}"`);
      return fallbackMiB;
    }
    return mib;
  }

  factor(key: string): number | undefined {
    const raw = this.conf[key];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || value <= 0 || value > 10) {
      this.problem(key, `must be a number above 0 and at most 10, got "${raw}"`);
      return undefined;
    }
    return value;
  }

  boolean(key: string): boolean {
    const raw = this.conf[key];
    if (raw === undefined) return false;
    const normalized = raw.trim().toLowerCase();
    if (normalized !== 'true' && normalized !== 'false') {
      this.problem(key, `must be true or false, got "${raw}"`);
      return false;
    }
    return normalized === 'true';
  }

  /** On EKS a pod requests `request.cores` instead of `cores`: more would outgrow the reservation. */
  cpuRequest(role: 'driver' | 'executor', cores: number): void {
    const key = `spark.kubernetes.${role}.request.cores`;
    const raw = this.conf[key];
    if (raw === undefined) return;
    const quantity = parseCpuQuantity(raw);
    if (quantity === undefined || quantity <= 0) {
      this.problem(key, `must be a CPU quantity such as 1, 0.5 or 500m, got "${raw}"`);
    } else if (quantity > cores) {
      this.problem(key, `must not exceed spark.${role}.cores (${cores}), the cores Libra reserves`);
    }
  }
}

function refuseBackendSizingKeys(reader: ConfReader): void {
  for (const key of BACKEND_SIZING_KEYS) {
    if (reader.has(key)) {
      reader.problem(
        key,
        'is not allowed: Libra sizes workers from spark.driver.* and spark.executor.*; set those',
      );
    }
  }
}

/** Memory Spark adds to each executor's container beside heap and overhead. */
interface ExecutorExtras {
  readonly offHeap: boolean;
  readonly offHeapMiB: number;
  readonly pysparkMiB: number;
}

const PYSPARK_MEMORY = 'spark.executor.pyspark.memory';

function executorExtras(reader: ConfReader): ExecutorExtras {
  const offHeap = reader.boolean('spark.memory.offHeap.enabled');
  if (offHeap && !reader.has('spark.memory.offHeap.size')) {
    reader.problem('spark.memory.offHeap.size', 'is required when spark.memory.offHeap.enabled is true');
  }
  return {
    offHeap,
    offHeapMiB: offHeap ? reader.memory('spark.memory.offHeap.size', 0, 'b') : 0,
    pysparkMiB: reader.has(PYSPARK_MEMORY) ? reader.memory(PYSPARK_MEMORY, 0) : 0,
  };
}

function processSize(
  reader: ConfReader,
  role: 'driver' | 'executor',
  defaults: { readonly cores: number; readonly memoryMiB: number },
  extraMiB: number,
): ProcessSize {
  const cores = reader.int(`spark.${role}.cores`, defaults.cores, 1, MAX_CORES_PER_PROCESS);
  reader.cpuRequest(role, cores);
  const memoryMiB = reader.memory(`spark.${role}.memory`, defaults.memoryMiB);
  const factor = reader.factor(`spark.${role}.memoryOverheadFactor`) ?? DEFAULT_OVERHEAD_FACTOR;
  const overheadMiB = reader.has(`spark.${role}.memoryOverhead`)
    ? reader.memory(`spark.${role}.memoryOverhead`, MIN_OVERHEAD_MIB)
    : Math.max(MIN_OVERHEAD_MIB, Math.ceil(memoryMiB * factor));
  return { cores, memoryMiB, overheadMiB, totalMemoryMiB: memoryMiB + overheadMiB + extraMiB };
}

/** How many executors the job may have at once, and where dynamic allocation starts. */
interface ExecutorCount {
  readonly dynamicAllocation: boolean;
  /** `spark.executor.instances`, or the dynamic-allocation maximum. */
  readonly executors: number;
  readonly minExecutors: number;
  readonly initialExecutors: number;
}

function executorCount(reader: ConfReader, options: SizingOptions): ExecutorCount {
  const dynamicAllocation = reader.boolean('spark.dynamicAllocation.enabled');
  if (!dynamicAllocation) {
    const executors = reader.int(
      'spark.executor.instances',
      SPARK_DEFAULTS.executorInstances,
      0,
      MAX_EXECUTORS,
    );
    return { dynamicAllocation, executors, minExecutors: 0, initialExecutors: 0 };
  }
  const executors = reader.int(
    'spark.dynamicAllocation.maxExecutors',
    options.defaultMaxExecutors,
    1,
    MAX_EXECUTORS,
  );
  const minExecutors = reader.int('spark.dynamicAllocation.minExecutors', 0, 0, MAX_EXECUTORS);
  const initialExecutors = reader.int(
    'spark.dynamicAllocation.initialExecutors',
    minExecutors,
    0,
    MAX_EXECUTORS,
  );
  // Spark starts max(min, initial, instances) executors: none of them may pass the maximum.
  const starts: [string, number][] = [
    ['spark.dynamicAllocation.minExecutors', minExecutors],
    ['spark.dynamicAllocation.initialExecutors', initialExecutors],
    ['spark.executor.instances', reader.int('spark.executor.instances', 0, 0, MAX_EXECUTORS)],
  ];
  for (const [key, bound] of starts) {
    if (bound > executors) {
      reader.problem(key, `must not exceed spark.dynamicAllocation.maxExecutors (${executors})`);
    }
  }
  return { dynamicAllocation, executors, minExecutors, initialExecutors };
}

/** The caller's conf with every sizing key Libra counted written in. */
function pinnedConf(
  conf: Readonly<Record<string, string>>,
  driver: ProcessSize,
  executor: ProcessSize,
  extras: ExecutorExtras,
  count: ExecutorCount,
): Record<string, string> {
  const sparkConf: Record<string, string> = {
    ...conf,
    'spark.driver.cores': String(driver.cores),
    'spark.driver.memory': `${driver.memoryMiB}m`,
    'spark.driver.memoryOverhead': `${driver.overheadMiB}m`,
    'spark.executor.cores': String(executor.cores),
    'spark.executor.memory': `${executor.memoryMiB}m`,
    'spark.executor.memoryOverhead': `${executor.overheadMiB}m`,
    'spark.memory.offHeap.enabled': String(extras.offHeap),
    'spark.dynamicAllocation.enabled': String(count.dynamicAllocation),
  };
  if (extras.offHeap) sparkConf['spark.memory.offHeap.size'] = `${extras.offHeapMiB}m`;
  if (extras.pysparkMiB > 0) sparkConf[PYSPARK_MEMORY] = `${extras.pysparkMiB}m`;
  if (count.dynamicAllocation) {
    // A backend's default start (EMR Serverless documents 3 initial executors) could pass a small
    // maximum and fail the job at start: pin Spark's own defaults instead.
    sparkConf['spark.dynamicAllocation.minExecutors'] = String(count.minExecutors);
    sparkConf['spark.dynamicAllocation.initialExecutors'] = String(count.initialExecutors);
    sparkConf['spark.dynamicAllocation.maxExecutors'] = String(count.executors);
  } else {
    sparkConf['spark.executor.instances'] = String(count.executors);
  }
  return sparkConf;
}

export function sizeJob(conf: Readonly<Record<string, string>>, options: SizingOptions): SizingResult {
  const reader = new ConfReader(conf);
  refuseBackendSizingKeys(reader);
  const extras = executorExtras(reader);
  const driver = processSize(
    reader,
    'driver',
    { cores: SPARK_DEFAULTS.driverCores, memoryMiB: SPARK_DEFAULTS.driverMemoryMiB },
    0,
  );
  const executor = processSize(
    reader,
    'executor',
    { cores: SPARK_DEFAULTS.executorCores, memoryMiB: SPARK_DEFAULTS.executorMemoryMiB },
    extras.offHeapMiB + extras.pysparkMiB,
  );
  const count = executorCount(reader, options);
  if (reader.errors.length > 0) return { ok: false, errors: reader.errors };
  return {
    ok: true,
    sizing: {
      resources: {
        driver,
        executor,
        executors: count.executors,
        dynamicAllocation: count.dynamicAllocation,
        totalCores: driver.cores + count.executors * executor.cores,
        totalMemoryMiB: driver.totalMemoryMiB + count.executors * executor.totalMemoryMiB,
      },
      sparkConf: pinnedConf(conf, driver, executor, extras, count),
    },
  };
}
