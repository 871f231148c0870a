import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldProblem } from '#core/errors.ts';
import { parseMemoryMiB, type Sizing, sizeJob } from '#core/sizing.ts';

const POOL = { defaultMaxExecutors: 10 };

function sized(conf: Record<string, string>, options = POOL): Sizing {
  const result = sizeJob(conf, options);
  if (!result.ok) throw new Error(`expected the conf to size, got ${JSON.stringify(result.errors)}`);
  return result.sizing;
}

function refused(conf: Record<string, string>, options = POOL): FieldProblem[] {
  const result = sizeJob(conf, options);
  if (result.ok) throw new Error(`expected the conf to be refused, got ${JSON.stringify(result.sizing)}`);
  return result.errors;
}

const fields = (errors: FieldProblem[]) => errors.map((e) => e.field);

/** Every key whose absence would let a backend default decide the job's size. */
const PINNED_KEYS = [
  'spark.driver.cores',
  'spark.driver.memory',
  'spark.driver.memoryOverhead',
  'spark.executor.cores',
  'spark.executor.memory',
  'spark.executor.memoryOverhead',
  'spark.memory.offHeap.enabled',
  'spark.dynamicAllocation.enabled',
];

describe('parseMemoryMiB', () => {
  it.each([
    ['2g', 2048],
    ['2048m', 2048],
    ['2048000k', 2000],
    ['1t', 1024 * 1024],
    ['2gb', 2048],
    ['512mb', 512],
    ['4096kb', 4],
    ['1tb', 1024 * 1024],
    ['2G', 2048],
    ['2GB', 2048],
    ['2048M', 2048],
    ['1T', 1024 * 1024],
    ['2048', 2048],
    ['1.5g', 1536],
    ['0.5m', 1],
    ['1.1g', 1127],
    ['1048576b', 1],
    ['1k', 1],
    [' 2g ', 2048],
    ['0', 0],
  ])('reads %j as %i MiB', (value, mib) => {
    expect(parseMemoryMiB(value)).toBe(mib);
  });

  it('reads a bare number in bytes when told to', () => {
    expect(parseMemoryMiB('1073741824', 'b')).toBe(1024);
    expect(parseMemoryMiB('1g', 'b')).toBe(1024);
  });

  it.each([
    '',
    ' ',
    'g',
    'lots',
    '-1g',
    '+2g',
    '2x',
    '2pb',
    '2gbb',
    '2 gigs',
    '1e3m',
    '1,5g',
    '.5g',
    '1.g',
    '0x10m',
    'Infinity',
    'NaN',
    `${'9'.repeat(400)}m`,
    `${'9'.repeat(20)}t`,
  ])('refuses %j', (value) => {
    expect(parseMemoryMiB(value)).toBeUndefined();
  });

  it('reads every whole size the same in m, g, k and bare forms, and reads its own output back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1024 * 1024 }), (mib) => {
        expect(parseMemoryMiB(`${mib}m`)).toBe(mib);
        expect(parseMemoryMiB(`${mib}`)).toBe(mib);
        expect(parseMemoryMiB(`${mib * 1024}k`)).toBe(mib);
        expect(parseMemoryMiB(`${mib / 1024}g`)).toBe(mib);
      }),
    );
  });
});

describe('sizeJob: defaults', () => {
  it("sizes an empty conf with Spark's defaults and pins them all", () => {
    // Act
    const { resources, sparkConf } = sized({});

    // Assess
    const process = { cores: 1, memoryMiB: 1024, overheadMiB: 384, totalMemoryMiB: 1408 };
    expect(resources).toEqual({
      driver: process,
      executor: process,
      executors: 2,
      dynamicAllocation: false,
      totalCores: 3,
      totalMemoryMiB: 3 * 1408,
    });
    expect(sparkConf).toEqual({
      'spark.driver.cores': '1',
      'spark.driver.memory': '1024m',
      'spark.driver.memoryOverhead': '384m',
      'spark.executor.cores': '1',
      'spark.executor.memory': '1024m',
      'spark.executor.memoryOverhead': '384m',
      'spark.executor.instances': '2',
      'spark.memory.offHeap.enabled': 'false',
      'spark.dynamicAllocation.enabled': 'false',
    });
  });

  it('keeps the keys it does not size as the caller gave them', () => {
    // Act
    const { sparkConf } = sized({ 'spark.sql.shuffle.partitions': '64', 'spark.app.name': 'nightly' });

    // Assess
    expect(sparkConf['spark.sql.shuffle.partitions']).toBe('64');
    expect(sparkConf['spark.app.name']).toBe('nightly');
  });
});

describe('sizeJob: cores and memory', () => {
  it('counts the driver plus executors × (cores, memory + overhead), in every seed format', () => {
    // Prepare
    const conf = {
      'spark.driver.cores': '2',
      'spark.driver.memory': '2g',
      'spark.executor.cores': '4',
      'spark.executor.memory': '2048000k',
      'spark.executor.instances': '5',
    };

    // Act
    const { resources, sparkConf } = sized(conf);

    // Assess
    expect(resources.driver).toEqual({ cores: 2, memoryMiB: 2048, overheadMiB: 384, totalMemoryMiB: 2432 });
    expect(resources.executor).toEqual({ cores: 4, memoryMiB: 2000, overheadMiB: 384, totalMemoryMiB: 2384 });
    expect(resources.executors).toBe(5);
    expect(resources.totalCores).toBe(2 + 5 * 4);
    expect(resources.totalMemoryMiB).toBe(2432 + 5 * 2384);
    expect(sparkConf['spark.executor.memory']).toBe('2000m');
    expect(sparkConf['spark.driver.memory']).toBe('2048m');
  });

  it('counts a driver alone when there are no executors', () => {
    // Act
    const { resources } = sized({ 'spark.executor.instances': '0' });

    // Assess
    expect(resources.totalCores).toBe(1);
    expect(resources.totalMemoryMiB).toBe(1408);
  });

  it.each([
    ['3840m', 384],
    ['3841m', 385],
    ['8g', 820],
    ['10g', 1024],
    ['1g', 384],
  ])('defaults the overhead of a %s heap to max(384 MiB, 10 %%) = %i MiB', (memory, overhead) => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.executor.memory': memory,
      'spark.driver.memory': memory,
    });

    // Assess
    expect(resources.executor.overheadMiB).toBe(overhead);
    expect(resources.driver.overheadMiB).toBe(overhead);
    expect(sparkConf['spark.executor.memoryOverhead']).toBe(`${overhead}m`);
  });

  it('takes an explicit memoryOverhead as given, bare numbers in MiB, even below 384 MiB', () => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.executor.memory': '8g',
      'spark.executor.memoryOverhead': '1g',
      'spark.driver.memoryOverhead': '200',
    });

    // Assess
    expect(resources.executor).toEqual({
      cores: 1,
      memoryMiB: 8192,
      overheadMiB: 1024,
      totalMemoryMiB: 9216,
    });
    expect(resources.driver.overheadMiB).toBe(200);
    expect(sparkConf['spark.driver.memoryOverhead']).toBe('200m');
  });

  it('applies memoryOverheadFactor per process, with the 384 MiB floor', () => {
    // Act
    const { resources } = sized({
      'spark.executor.memory': '4g',
      'spark.executor.memoryOverheadFactor': '0.4',
      'spark.driver.memory': '1g',
      'spark.driver.memoryOverheadFactor': '0.2',
    });

    // Assess
    expect(resources.executor.overheadMiB).toBe(Math.ceil(4096 * 0.4));
    expect(resources.driver.overheadMiB).toBe(384);
  });

  it('prefers an explicit memoryOverhead to a factor', () => {
    // Act
    const { resources } = sized({
      'spark.executor.memory': '4g',
      'spark.executor.memoryOverheadFactor': '0.5',
      'spark.executor.memoryOverhead': '500m',
    });

    // Assess
    expect(resources.executor.overheadMiB).toBe(500);
  });

  it('counts off-heap memory in each executor when enabled, reading a bare size in bytes', () => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.memory.offHeap.enabled': 'true',
      'spark.memory.offHeap.size': '1073741824',
    });

    // Assess
    expect(resources.executor.totalMemoryMiB).toBe(1024 + 384 + 1024);
    expect(resources.driver.totalMemoryMiB).toBe(1408);
    expect(resources.totalMemoryMiB).toBe(1408 + 2 * 2432);
    expect(sparkConf['spark.memory.offHeap.enabled']).toBe('true');
    expect(sparkConf['spark.memory.offHeap.size']).toBe('1024m');
  });

  it('does not count an off-heap size that is not enabled', () => {
    // Act
    const { resources } = sized({ 'spark.memory.offHeap.size': '8g' });

    // Assess
    expect(resources.executor.totalMemoryMiB).toBe(1408);
  });

  it('refuses off-heap memory enabled without a size, as Spark would', () => {
    expect(refused({ 'spark.memory.offHeap.enabled': 'true' })).toEqual([
      {
        field: 'sparkConf.spark.memory.offHeap.size',
        message: 'is required when spark.memory.offHeap.enabled is true',
      },
    ]);
  });

  it('counts PySpark worker memory in each executor and pins it', () => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.executor.pyspark.memory': '2g',
      'spark.executor.instances': '3',
    });

    // Assess
    expect(resources.executor.totalMemoryMiB).toBe(1024 + 384 + 2048);
    expect(resources.totalMemoryMiB).toBe(1408 + 3 * 3456);
    expect(sparkConf['spark.executor.pyspark.memory']).toBe('2048m');
  });
});

describe('sizeJob: dynamic allocation', () => {
  it('counts maxExecutors and pins the start at Spark’s own defaults', () => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.dynamicAllocation.enabled': 'true',
      'spark.dynamicAllocation.maxExecutors': '50',
      'spark.executor.cores': '2',
    });

    // Assess
    expect(resources.dynamicAllocation).toBe(true);
    expect(resources.executors).toBe(50);
    expect(resources.totalCores).toBe(1 + 50 * 2);
    expect(resources.totalMemoryMiB).toBe(1408 + 50 * 1408);
    expect(sparkConf['spark.dynamicAllocation.enabled']).toBe('true');
    expect(sparkConf['spark.dynamicAllocation.maxExecutors']).toBe('50');
    expect(sparkConf['spark.dynamicAllocation.minExecutors']).toBe('0');
    expect(sparkConf['spark.dynamicAllocation.initialExecutors']).toBe('0');
    expect(sparkConf['spark.executor.instances']).toBeUndefined();
  });

  it("caps a job that names no maximum at the pool's default and writes the cap into the conf", () => {
    // Act
    const { resources, sparkConf } = sized(
      { 'spark.dynamicAllocation.enabled': 'true' },
      { defaultMaxExecutors: 7 },
    );

    // Assess
    expect(resources.executors).toBe(7);
    expect(resources.totalCores).toBe(8);
    expect(sparkConf['spark.dynamicAllocation.maxExecutors']).toBe('7');
  });

  it('keeps the minimum and initial executors the caller chose, up to the maximum', () => {
    // Act
    const { sparkConf } = sized({
      'spark.dynamicAllocation.enabled': 'True',
      'spark.dynamicAllocation.minExecutors': '2',
      'spark.dynamicAllocation.initialExecutors': '4',
      'spark.dynamicAllocation.maxExecutors': '4',
      'spark.executor.instances': '4',
    });

    // Assess
    expect(sparkConf['spark.dynamicAllocation.enabled']).toBe('true');
    expect(sparkConf['spark.dynamicAllocation.minExecutors']).toBe('2');
    expect(sparkConf['spark.dynamicAllocation.initialExecutors']).toBe('4');
  });

  it('starts at the minimum when no initial count is given', () => {
    // Act
    const { sparkConf } = sized({
      'spark.dynamicAllocation.enabled': 'true',
      'spark.dynamicAllocation.minExecutors': '3',
    });

    // Assess
    expect(sparkConf['spark.dynamicAllocation.initialExecutors']).toBe('3');
  });

  it.each([
    'spark.dynamicAllocation.minExecutors',
    'spark.dynamicAllocation.initialExecutors',
    'spark.executor.instances',
  ])('refuses %s above maxExecutors, naming it', (key) => {
    // Act
    const errors = refused({
      'spark.dynamicAllocation.enabled': 'true',
      'spark.dynamicAllocation.maxExecutors': '4',
      [key]: '5',
    });

    // Assess
    expect(errors).toContainEqual({
      field: `sparkConf.${key}`,
      message: 'must not exceed spark.dynamicAllocation.maxExecutors (4)',
    });
  });

  it("refuses a minimum above the pool's default maximum when the job names none", () => {
    expect(
      fields(
        refused(
          { 'spark.dynamicAllocation.enabled': 'true', 'spark.dynamicAllocation.minExecutors': '11' },
          { defaultMaxExecutors: 10 },
        ),
      ),
    ).toEqual([
      'sparkConf.spark.dynamicAllocation.minExecutors',
      'sparkConf.spark.dynamicAllocation.initialExecutors',
    ]);
  });

  it('ignores the dynamic-allocation keys when it is off, counting spark.executor.instances', () => {
    // Act
    const { resources, sparkConf } = sized({
      'spark.dynamicAllocation.enabled': 'false',
      'spark.dynamicAllocation.maxExecutors': '500',
      'spark.executor.instances': '3',
    });

    // Assess
    expect(resources.dynamicAllocation).toBe(false);
    expect(resources.executors).toBe(3);
    expect(sparkConf['spark.executor.instances']).toBe('3');
  });
});

describe('sizeJob: refusals', () => {
  it.each([
    ['spark.driver.cores', '0'],
    ['spark.driver.cores', '65'],
    ['spark.executor.cores', 'two'],
    ['spark.executor.cores', '1.5'],
    ['spark.executor.cores', '-1'],
    ['spark.executor.instances', '10001'],
    ['spark.executor.instances', ''],
    ['spark.driver.memory', 'lots'],
    ['spark.driver.memory', '0'],
    ['spark.executor.memory', '-1g'],
    ['spark.executor.memory', '2t'],
    ['spark.executor.memory', `${'9'.repeat(21)}m`],
    ['spark.executor.memoryOverhead', '0'],
    ['spark.driver.memoryOverhead', 'big'],
    ['spark.executor.memoryOverheadFactor', '0'],
    ['spark.executor.memoryOverheadFactor', '11'],
    ['spark.driver.memoryOverheadFactor', 'abc'],
    ['spark.dynamicAllocation.enabled', 'yes'],
    ['spark.memory.offHeap.enabled', '1'],
    ['spark.executor.pyspark.memory', 'huge'],
  ])('refuses %s = %j, naming the key', (key, value) => {
    // Act
    const errors = refused({ [key]: value });

    // Assess
    expect(fields(errors)).toEqual([`sparkConf.${key}`]);
    expect(errors[0]?.message).toMatch(/must|required/);
  });

  it.each([
    ['spark.dynamicAllocation.maxExecutors', '0'],
    ['spark.dynamicAllocation.maxExecutors', '10001'],
    ['spark.dynamicAllocation.minExecutors', 'x'],
    ['spark.dynamicAllocation.initialExecutors', '-1'],
  ])('refuses %s = %j with dynamic allocation on', (key, value) => {
    expect(fields(refused({ 'spark.dynamicAllocation.enabled': 'true', [key]: value }))).toContain(
      `sparkConf.${key}`,
    );
  });

  it('reports every bad key at once', () => {
    // Act
    const errors = refused({
      'spark.driver.cores': '0',
      'spark.executor.memory': 'lots',
      'spark.executor.instances': 'many',
    });

    // Assess
    expect(fields(errors).sort()).toEqual([
      'sparkConf.spark.driver.cores',
      'sparkConf.spark.executor.instances',
      'sparkConf.spark.executor.memory',
    ]);
  });

  it.each([
    'spark.emr-serverless.driver.cores',
    'spark.emr-serverless.driver.memory',
    'spark.emr-serverless.executor.cores',
    'spark.emr-serverless.executor.memory',
    'spark.emr-serverless.memoryOverheadFactor',
  ])("refuses EMR Serverless's own worker-size key %s", (key) => {
    expect(refused({ [key]: '16g' })).toEqual([
      {
        field: `sparkConf.${key}`,
        message: 'is not allowed: Libra sizes workers from spark.driver.* and spark.executor.*; set those',
      },
    ]);
  });

  it.each([
    ['0.5', '1'],
    ['500m', '1'],
    ['2', '2'],
    ['1.5', '2'],
  ])('allows a Kubernetes CPU request of %s with %s executor cores', (request, cores) => {
    expect(
      sized({ 'spark.kubernetes.executor.request.cores': request, 'spark.executor.cores': cores }).resources
        .executor.cores,
    ).toBe(Number(cores));
  });

  it('refuses a Kubernetes CPU request above the cores Libra reserves', () => {
    expect(refused({ 'spark.kubernetes.driver.request.cores': '4', 'spark.driver.cores': '2' })).toEqual([
      {
        field: 'sparkConf.spark.kubernetes.driver.request.cores',
        message: 'must not exceed spark.driver.cores (2), the cores Libra reserves',
      },
    ]);
    expect(fields(refused({ 'spark.kubernetes.executor.request.cores': '1500m' }))).toEqual([
      'sparkConf.spark.kubernetes.executor.request.cores',
    ]);
  });

  it.each(['', 'two', '0', '-1', '1Gi'])('refuses the Kubernetes CPU request %j', (request) => {
    expect(fields(refused({ 'spark.kubernetes.executor.request.cores': request }))).toEqual([
      'sparkConf.spark.kubernetes.executor.request.cores',
    ]);
  });
});

/** A memory size in one of the accepted spellings, with the MiB it means. */
const memory = fc
  .tuple(fc.integer({ min: 1, max: 64 * 1024 }), fc.constantFrom('m', '', 'mb', 'M', 'k', 'g', 'G', 'gb'))
  .map(([mib, unit]) => {
    if (unit === 'k') return { text: `${mib * 1024}k`, mib };
    if (unit.toLowerCase().startsWith('g')) return { text: `${mib / 1024}${unit}`, mib };
    return { text: `${mib}${unit}`, mib };
  });

const processConf = (role: 'driver' | 'executor') =>
  fc
    .record(
      {
        cores: fc.integer({ min: 1, max: 64 }),
        memory,
        overhead: fc.oneof(
          fc.record({ explicit: memory }),
          fc.record({ factor: fc.integer({ min: 1, max: 100 }).map((n) => n / 100) }),
        ),
      },
      { requiredKeys: [] },
    )
    .map((p) => {
      const conf: Record<string, string> = {};
      if (p.cores !== undefined) conf[`spark.${role}.cores`] = String(p.cores);
      if (p.memory !== undefined) conf[`spark.${role}.memory`] = p.memory.text;
      if (p.overhead !== undefined && 'explicit' in p.overhead)
        conf[`spark.${role}.memoryOverhead`] = p.overhead.explicit.text;
      if (p.overhead !== undefined && 'factor' in p.overhead)
        conf[`spark.${role}.memoryOverheadFactor`] = String(p.overhead.factor);
      const cores = p.cores ?? 1;
      const heap = p.memory?.mib ?? 1024;
      const overhead =
        p.overhead !== undefined && 'explicit' in p.overhead
          ? p.overhead.explicit.mib
          : Math.max(
              384,
              Math.ceil(
                heap * (p.overhead !== undefined && 'factor' in p.overhead ? p.overhead.factor : 0.1),
              ),
            );
      return { conf, cores, containerMiB: heap + overhead };
    });

const executorCount = fc.oneof(
  fc.record({ instances: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }) }),
  fc.record({
    dynamic: fc.constant(true),
    max: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
  }),
);

/** A random valid conf with the resources the formula says it needs. */
const validConf = fc
  .record({
    driver: processConf('driver'),
    executor: processConf('executor'),
    count: executorCount,
    defaultMax: fc.integer({ min: 1, max: 100 }),
    offHeap: fc.option(memory, { nil: undefined }),
    pyspark: fc.option(memory, { nil: undefined }),
  })
  .map(({ driver, executor, count, defaultMax, offHeap, pyspark }) => {
    const conf: Record<string, string> = {
      ...driver.conf,
      ...executor.conf,
      'spark.sql.shuffle.partitions': '8',
    };
    let executors: number;
    if ('dynamic' in count) {
      conf['spark.dynamicAllocation.enabled'] = 'true';
      if (count.max !== undefined) conf['spark.dynamicAllocation.maxExecutors'] = String(count.max);
      executors = count.max ?? defaultMax;
    } else {
      if (count.instances !== undefined) conf['spark.executor.instances'] = String(count.instances);
      executors = count.instances ?? 2;
    }
    if (offHeap !== undefined) {
      conf['spark.memory.offHeap.enabled'] = 'true';
      conf['spark.memory.offHeap.size'] =
        offHeap.text === `${offHeap.mib}` ? `${offHeap.mib}m` : offHeap.text;
    }
    if (pyspark !== undefined) conf['spark.executor.pyspark.memory'] = pyspark.text;
    const executorMiB = executor.containerMiB + (offHeap?.mib ?? 0) + (pyspark?.mib ?? 0);
    return {
      conf,
      options: { defaultMaxExecutors: defaultMax },
      expected: {
        executors,
        totalCores: driver.cores + executors * executor.cores,
        totalMemoryMiB: driver.containerMiB + executors * executorMiB,
      },
    };
  });

describe('sizeJob: properties', () => {
  it('counts exactly driver + executors × (cores, memory + overhead + extras) for any valid conf', () => {
    fc.assert(
      fc.property(validConf, ({ conf, options, expected }) => {
        // Act
        const { resources } = sized(conf, options);

        // Assess
        expect(resources.executors).toBe(expected.executors);
        expect(resources.totalCores).toBe(expected.totalCores);
        expect(resources.totalMemoryMiB).toBe(expected.totalMemoryMiB);
      }),
    );
  });

  it('pins every sizing key, so no backend default can change what was counted', () => {
    fc.assert(
      fc.property(validConf, ({ conf, options }) => {
        // Act
        const { resources, sparkConf } = sized(conf, options);

        // Assess
        for (const key of PINNED_KEYS) expect(sparkConf[key]).toBeDefined();
        const countKey = resources.dynamicAllocation
          ? ['spark.dynamicAllocation.maxExecutors', 'spark.dynamicAllocation.initialExecutors']
          : ['spark.executor.instances'];
        for (const key of countKey) expect(sparkConf[key]).toBeDefined();
        expect(sparkConf['spark.sql.shuffle.partitions']).toBe('8');
      }),
    );
  });

  it('is idempotent: sizing the conf it returns gives the same resources and the same conf', () => {
    fc.assert(
      fc.property(validConf, fc.integer({ min: 1, max: 100 }), ({ conf, options }, otherDefault) => {
        // Prepare
        const first = sized(conf, options);

        // Act: the pool default no longer matters once the cap is written in.
        const second = sized(first.sparkConf, { defaultMaxExecutors: otherDefault });

        // Assess
        expect(second.resources).toEqual(first.resources);
        expect(second.sparkConf).toEqual(first.sparkConf);
      }),
    );
  });
});
