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

/** Spark's default overhead: max(384 MiB, 10 % of the heap), unless set. */
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

export function sizeJob(conf: Readonly<Record<string, string>>, options: SizingOptions): SizingResult {
  const errors: FieldProblem[] = [];
  const field = (key: string) => `sparkConf.${key}`;

  const readInt = (key: string, fallback: number, min: number, max: number): number => {
    const raw = conf[key];
    if (raw === undefined) return fallback;
    if (!/^\s*\d+\s*$/.test(raw)) {
      errors.push({ field: field(key), message: `must be a whole number, got "${raw}"` });
      return fallback;
    }
    const value = Number(raw);
    if (value < min || value > max) {
      errors.push({ field: field(key), message: `must be between ${min} and ${max}, got ${value}` });
      return fallback;
    }
    return value;
  };

  const readMemory = (key: string, fallbackMiB: number, bareUnit: 'b' | 'm' = 'm'): number => {
    const raw = conf[key];
    if (raw === undefined) return fallbackMiB;
    const mib = parseMemoryMiB(raw, bareUnit);
    if (mib === undefined || mib <= 0 || mib > MAX_MEMORY_MIB_PER_PROCESS) {
      errors.push({
        field: field(key),
        message: `must be a memory size from 1m to 1t such as 2g, 2048m or 2048000k, got "${raw}"`,
      });
      return fallbackMiB;
    }
    return mib;
  };

  const readFactor = (key: string): number | undefined => {
    const raw = conf[key];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || value <= 0 || value > 10) {
      errors.push({ field: field(key), message: `must be a number above 0 and at most 10, got "${raw}"` });
      return undefined;
    }
    return value;
  };

  const readBoolean = (key: string): boolean => {
    const raw = conf[key];
    if (raw === undefined) return false;
    const normalized = raw.trim().toLowerCase();
    if (normalized !== 'true' && normalized !== 'false') {
      errors.push({ field: field(key), message: `must be true or false, got "${raw}"` });
      return false;
    }
    return normalized === 'true';
  };

  for (const key of BACKEND_SIZING_KEYS) {
    if (conf[key] !== undefined) {
      errors.push({
        field: field(key),
        message: 'is not allowed: Libra sizes workers from spark.driver.* and spark.executor.*; set those',
      });
    }
  }

  /** On EKS a pod requests `request.cores` instead of `cores`: more would outgrow the reservation. */
  const checkCpuRequest = (role: 'driver' | 'executor', cores: number): void => {
    const key = `spark.kubernetes.${role}.request.cores`;
    const raw = conf[key];
    if (raw === undefined) return;
    const quantity = parseCpuQuantity(raw);
    if (quantity === undefined || quantity <= 0) {
      errors.push({
        field: field(key),
        message: `must be a CPU quantity such as 1, 0.5 or 500m, got "${raw}"`,
      });
    } else if (quantity > cores) {
      errors.push({
        field: field(key),
        message: `must not exceed spark.${role}.cores (${cores}), the cores Libra reserves`,
      });
    }
  };

  const processSize = (
    role: 'driver' | 'executor',
    defaultCores: number,
    defaultMemoryMiB: number,
    extraMiB: number,
  ): ProcessSize => {
    const cores = readInt(`spark.${role}.cores`, defaultCores, 1, MAX_CORES_PER_PROCESS);
    checkCpuRequest(role, cores);
    const memoryMiB = readMemory(`spark.${role}.memory`, defaultMemoryMiB);
    const explicitOverhead = conf[`spark.${role}.memoryOverhead`];
    const factor = readFactor(`spark.${role}.memoryOverheadFactor`) ?? DEFAULT_OVERHEAD_FACTOR;
    const overheadMiB =
      explicitOverhead !== undefined
        ? readMemory(`spark.${role}.memoryOverhead`, MIN_OVERHEAD_MIB)
        : Math.max(MIN_OVERHEAD_MIB, Math.ceil(memoryMiB * factor));
    return { cores, memoryMiB, overheadMiB, totalMemoryMiB: memoryMiB + overheadMiB + extraMiB };
  };

  // Spark adds these to each executor's container beside heap and overhead.
  const offHeap = readBoolean('spark.memory.offHeap.enabled');
  if (offHeap && conf['spark.memory.offHeap.size'] === undefined) {
    errors.push({
      field: field('spark.memory.offHeap.size'),
      message: 'is required when spark.memory.offHeap.enabled is true',
    });
  }
  const offHeapMiB = offHeap ? readMemory('spark.memory.offHeap.size', 0, 'b') : 0;
  const pysparkKey = 'spark.executor.pyspark.memory';
  const pysparkMiB = conf[pysparkKey] === undefined ? 0 : readMemory(pysparkKey, 0);

  const driver = processSize('driver', SPARK_DEFAULTS.driverCores, SPARK_DEFAULTS.driverMemoryMiB, 0);
  const executor = processSize(
    'executor',
    SPARK_DEFAULTS.executorCores,
    SPARK_DEFAULTS.executorMemoryMiB,
    offHeapMiB + pysparkMiB,
  );
  const dynamicAllocation = readBoolean('spark.dynamicAllocation.enabled');

  let executors: number;
  let minExecutors = 0;
  let initialExecutors = 0;
  if (dynamicAllocation) {
    executors = readInt(
      'spark.dynamicAllocation.maxExecutors',
      options.defaultMaxExecutors,
      1,
      MAX_EXECUTORS,
    );
    minExecutors = readInt('spark.dynamicAllocation.minExecutors', 0, 0, MAX_EXECUTORS);
    initialExecutors = readInt('spark.dynamicAllocation.initialExecutors', minExecutors, 0, MAX_EXECUTORS);
    // Spark starts max(min, initial, instances) executors: none of them may pass the maximum.
    const starts: [string, number][] = [
      ['spark.dynamicAllocation.minExecutors', minExecutors],
      ['spark.dynamicAllocation.initialExecutors', initialExecutors],
      ['spark.executor.instances', readInt('spark.executor.instances', 0, 0, MAX_EXECUTORS)],
    ];
    for (const [key, bound] of starts) {
      if (bound > executors) {
        errors.push({
          field: field(key),
          message: `must not exceed spark.dynamicAllocation.maxExecutors (${executors})`,
        });
      }
    }
  } else {
    executors = readInt('spark.executor.instances', SPARK_DEFAULTS.executorInstances, 0, MAX_EXECUTORS);
  }

  if (errors.length > 0) return { ok: false, errors };

  const sparkConf: Record<string, string> = {
    ...conf,
    'spark.driver.cores': String(driver.cores),
    'spark.driver.memory': `${driver.memoryMiB}m`,
    'spark.driver.memoryOverhead': `${driver.overheadMiB}m`,
    'spark.executor.cores': String(executor.cores),
    'spark.executor.memory': `${executor.memoryMiB}m`,
    'spark.executor.memoryOverhead': `${executor.overheadMiB}m`,
    'spark.memory.offHeap.enabled': String(offHeap),
    'spark.dynamicAllocation.enabled': String(dynamicAllocation),
  };
  if (offHeap) sparkConf['spark.memory.offHeap.size'] = `${offHeapMiB}m`;
  if (pysparkMiB > 0) sparkConf[pysparkKey] = `${pysparkMiB}m`;
  if (dynamicAllocation) {
    // A backend's default start (EMR Serverless documents 3 initial executors) could pass a small
    // maximum and fail the job at start: pin Spark's own defaults instead.
    sparkConf['spark.dynamicAllocation.minExecutors'] = String(minExecutors);
    sparkConf['spark.dynamicAllocation.initialExecutors'] = String(initialExecutors);
    sparkConf['spark.dynamicAllocation.maxExecutors'] = String(executors);
  } else {
    sparkConf['spark.executor.instances'] = String(executors);
  }

  return {
    ok: true,
    sizing: {
      resources: {
        driver,
        executor,
        executors,
        dynamicAllocation,
        totalCores: driver.cores + executors * executor.cores,
        totalMemoryMiB: driver.totalMemoryMiB + executors * executor.totalMemoryMiB,
      },
      sparkConf,
    },
  };
}
