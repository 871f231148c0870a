import { Duration } from 'aws-cdk-lib';
import { type MathExpression, type Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AdmissionFunctionsProps } from './admission-functions-props.ts';
import { ADMISSION_TIMEOUT } from './intake-queue.ts';
import { configEnvironment, lambdaEntry, libraFunction } from './libra-function.ts';
import {
  capacitySaturation,
  type LibraAlarmSpec,
  type LibraAlarms,
  libraAlarms,
  METRIC_PERIOD,
  type PoolLimits,
  pascal,
  poolMetric,
  sumOf,
} from './libra-metrics.ts';

/** Messages per admission invocation: one pass per pool answers all of a batch's messages for it. */
export const ADMISSION_BATCH_SIZE = 10;

/**
 * The functions that run admission and the tick (DESIGN §4; the core's Admission and reconciler
 * run inside them): the admission function on the intake queue, with partial
 * batch failures, and the one-minute tick that reconciles every pool and then admits, which is
 * also how a job whose intake message was lost gets admitted. Both start workflows the same way
 * (JobLauncher, in lambdas/entry/admission.ts and tick.ts); only the tick reconciles, so only the
 * tick sees executions, cancels runs, wakes pools and notifies.
 *
 * Its alarms: admission or the tick failing, and per pool, a job ended START_FAILED, the oldest
 * wait near maxWaitMinutes, capacity saturated.
 */
export class AdmissionFunctions extends Construct {
  readonly admission: NodejsFunction;
  readonly tick: NodejsFunction;
  readonly tickRule: Rule;
  readonly alarms: LibraAlarms;

  constructor(scope: Construct, id: string, props: AdmissionFunctionsProps) {
    super(scope, id);
    this.admission = this.#starter('Admission', 'admission.ts', ADMISSION_TIMEOUT, props, {
      description: 'Libra: admits queued jobs of a pool in priority order, within its capacity',
    });
    this.admission.addEventSource(
      new SqsEventSource(props.intake.queue, {
        batchSize: ADMISSION_BATCH_SIZE,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 2,
      }),
    );
    this.node.addValidation({ validate: () => visibilityTooShort(props) });
    // A job whose workflow cannot start ends START_FAILED at admission: its pool is woken and its
    // owner notified.
    props.intake.grantSend(this.admission);
    props.notifier.grantInvoke(this.admission);

    this.tick = this.#starter('Tick', 'tick.ts', Duration.seconds(60), props, {
      description: 'Libra: the one-minute tick: reconciles every pool, then admits',
    });
    // The reconciler reads how each leased job's execution stands, and finalizes the jobs whose
    // execution ended unseen: it reads a cancelled job's history, cancels its run, wakes its pool
    // and notifies. It never stops an execution.
    // It also gives the duration warnings that are due: one query of the warnings index per pool.
    props.store.grant(this.tick, {
      items: ['GetItem', 'PutItem', 'UpdateItem'],
      queries: ['waiting', 'history', 'warnings'],
    });
    props.workflow.grantDescribe(this.tick);
    props.intake.grantSend(this.tick);
    props.backends.grantCancelRuns(this.tick);
    props.notifier.grantInvoke(this.tick);
    this.tickRule = new Rule(this, 'TickRule', {
      description: 'Libra: reconcile and admit every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaTarget(this.tick)],
    });

    this.alarms = libraAlarms(this, {
      AdmissionErrors: {
        metric: this.metricErrors(),
        // The tick runs five times in five minutes: three failures is not a blip.
        threshold: 3,
        description: 'admission or the tick keeps failing; queued jobs are not being admitted',
      },
      ...Object.fromEntries(
        Object.entries(props.config.pools).flatMap(([pool, limits]) =>
          Object.entries(this.#poolAlarms(pool, limits, props.oldestWaitShare ?? 0.8)),
        ),
      ),
    });
  }

  /** Errors of the admission function and the tick together. */
  metricErrors(): MathExpression {
    return sumOf('Admission and tick errors', {
      admission: this.admission.metricErrors({ period: METRIC_PERIOD }),
      tick: this.tick.metricErrors({ period: METRIC_PERIOD }),
    });
  }

  /** Jobs of `pool` that ended START_FAILED: their workflow could not be started. */
  metricStartFailed(pool: string): Metric {
    return poolMetric('startFailed', pool);
  }

  /** How long the oldest job waiting in `pool` has waited, in seconds, as the tick measures it. */
  metricOldestWait(pool: string): Metric {
    return poolMetric('oldestWaitSeconds', pool, Stats.MAXIMUM);
  }

  #poolAlarms(pool: string, limits: PoolLimits, oldestWaitShare: number): Record<string, LibraAlarmSpec> {
    const { maxWaitMinutes } = limits;
    const suffix = pascal(pool);
    return {
      [`OldestWait${suffix}`]: {
        metric: this.metricOldestWait(pool),
        threshold: Math.round(maxWaitMinutes * 60 * oldestWaitShare),
        description:
          `the oldest job waiting in pool ${pool} is close to its maxWaitMinutes (${maxWaitMinutes}); ` +
          'it will time out unless capacity frees up',
      },
      [`StartFailed${suffix}`]: {
        metric: this.metricStartFailed(pool),
        threshold: 1,
        description:
          `a job of pool ${pool} ended START_FAILED: its workflow could not be started (refused by AWS, ` +
          'or still failing after its retries); the job record holds AWS’s message',
      },
      [`CapacitySaturated${suffix}`]: {
        metric: capacitySaturation(pool, limits),
        threshold: 0.95,
        description: `pool ${pool} has used 95% or more of its cores, memory or concurrent jobs for 30 minutes`,
        evaluationPeriods: 6,
      },
    };
  }

  #starter(
    id: string,
    entry: string,
    timeout: Duration,
    props: AdmissionFunctionsProps,
    options: { description: string },
  ): NodejsFunction {
    const fn = libraFunction(this, id, {
      entry: lambdaEntry(entry),
      description: options.description,
      environment: configEnvironment(props.config),
      timeout,
      memorySize: props.memorySize,
      logRetention: props.logRetention,
    });
    // Admitting: the pool's waiting jobs in order, the lease, the job's move and its history item.
    props.store.grant(fn, { items: ['GetItem', 'PutItem', 'UpdateItem'], queries: ['waiting'] });
    props.workflow.grantStart(fn);
    props.artifacts.grantPutJobCode(fn);
    props.backends.shareTargets(fn);
    return fn;
  }
}

/** AWS's advice for an SQS event source: a visibility timeout of at least six times the function's timeout. */
function visibilityTooShort(props: AdmissionFunctionsProps): string[] {
  const visibility = (props.intake.queue.node.defaultChild as CfnQueue).visibilityTimeout ?? 30;
  const needed = ADMISSION_TIMEOUT.toSeconds() * 6;
  if (visibility >= needed) return [];
  return [
    `the intake queue's visibility timeout (${visibility} s) is under 6 × the admission timeout (${needed} s)`,
  ];
}
