import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  allowedPermissions,
  environmentOf,
  getAtt,
  libraStack,
  logicalId,
  permission,
  propertiesOf,
  ref,
  roleOf,
} from './app.ts';

const stack = libraStack({
  config: {
    alarmEmail: 'ops@example.com',
    pools: { 'etl-nightly': { maxWaitMinutes: 60, maxConcurrentJobs: 4 } },
  },
});
const template = Template.fromStack(stack);
const observability = stack.libra.observability;
const topic = ref(stack, observability.topic);
const alarmOf = (name: string) => propertiesOf(template, stack, observability.alarms[name] ?? stack);

/** A Powertools metric of the functions: namespace Libra, dimensions service and pool. */
const poolMetric = (name: string, pool: string, stat: string) => ({
  Metric: {
    Dimensions: [
      { Name: 'pool', Value: pool },
      { Name: 'service', Value: 'libra' },
    ],
    MetricName: name,
    Namespace: 'Libra',
  },
  Period: 300,
  Stat: stat,
});

describe('Observability alarms', () => {
  it('notify an SNS topic encrypted with a rotated key CloudWatch may use, TLS only, and the alarm e-mail', () => {
    const key = logicalId(stack, observability.topic.masterKey ?? stack);
    expect(propertiesOf(template, stack, observability.topic)).toEqual({
      DisplayName: 'Libra alarms',
      KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
    });
    expect(template.toJSON().Resources[key].Properties).toMatchObject({ EnableKeyRotation: true });
    expect(template.toJSON().Resources[key].Properties.KeyPolicy.Statement).toContainEqual({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: '*',
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topic],
      PolicyDocument: {
        Statement: [
          {
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Effect: 'Deny',
            Principal: '*',
            Resource: topic,
            Sid: 'AllowPublishThroughSSLOnly',
          },
        ],
        Version: '2012-10-17',
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: topic,
    });
    Template.fromStack(libraStack()).resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('are the ones of issue 5, one of each kind per pool, and all notify the topic', () => {
    expect(Object.keys(observability.alarms).sort()).toEqual(
      [
        'AdmissionErrors',
        'ApiServerErrors',
        'CapacitySaturatedDefault',
        'CapacitySaturatedEtlNightly',
        'DeadLetters',
        'OldestWaitDefault',
        'OldestWaitEtlNightly',
        'StartFailedDefault',
        'StartFailedEtlNightly',
        'WorkflowFailures',
      ].sort(),
    );
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties).toMatchObject({
        AlarmActions: [topic],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('are each built by the construct whose resource it watches, which exposes them; Observability wires them', () => {
    const { intake, workflow, jobApi, admission } = stack.libra;
    const owners: [{ readonly alarms: Readonly<Record<string, unknown>> }, string[]][] = [
      [intake, ['DeadLetters']],
      [workflow, ['WorkflowFailures']],
      [jobApi, ['ApiServerErrors']],
      [
        admission,
        [
          'AdmissionErrors',
          ...['Default', 'EtlNightly'].flatMap((pool) => [
            `OldestWait${pool}`,
            `StartFailed${pool}`,
            `CapacitySaturated${pool}`,
          ]),
        ],
      ],
    ];
    for (const [owner, names] of owners) {
      expect(Object.keys(owner.alarms).sort()).toEqual(names.sort());
      for (const [name, alarm] of Object.entries(owner.alarms)) {
        expect(observability.alarms[name]).toBe(alarm);
        expect(observability.alarms[name]?.node.scope).toBe(owner);
      }
    }
  });

  it('take the thresholds set in the observability settings of Libra', () => {
    const tuned = libraStack({ observability: { apiServerErrorRate: 0.1, oldestWaitShare: 0.5 } });
    const tunedTemplate = Template.fromStack(tuned);
    const threshold = (name: string) =>
      propertiesOf(tunedTemplate, tuned, tuned.libra.observability.alarms[name] ?? tuned).Threshold;

    expect(threshold('ApiServerErrors')).toBe(0.1);
    // Half of the default pool's 30 minutes.
    expect(threshold('OldestWaitDefault')).toBe(900);
  });

  it('fires as soon as a message is in the dead-letter queue', () => {
    expect(alarmOf('DeadLetters')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: getAtt(stack, stack.libra.intake.deadLetterQueue, 'QueueName') },
      ],
      Threshold: 1,
      EvaluationPeriods: 1,
    });
  });

  it('fires on a failed or timed-out workflow execution, and on repeated admission or tick errors', () => {
    const machine = ref(stack, stack.libra.workflow.stateMachine);
    expect(alarmOf('WorkflowFailures')).toMatchObject({
      Threshold: 1,
      Metrics: [
        { Expression: 'failed + timedOut', ReturnData: true },
        {
          Id: 'failed',
          MetricStat: { Metric: { MetricName: 'ExecutionsFailed', Dimensions: [{ Value: machine }] } },
        },
        {
          Id: 'timedOut',
          MetricStat: { Metric: { MetricName: 'ExecutionsTimedOut', Dimensions: [{ Value: machine }] } },
        },
      ],
    });
    expect(alarmOf('AdmissionErrors')).toMatchObject({
      Threshold: 3,
      Metrics: [
        { Expression: 'admission + tick' },
        {
          Id: 'admission',
          MetricStat: {
            Metric: {
              MetricName: 'Errors',
              Dimensions: [{ Value: ref(stack, stack.libra.admission.admission) }],
            },
          },
        },
        {
          Id: 'tick',
          MetricStat: {
            Metric: { MetricName: 'Errors', Dimensions: [{ Value: ref(stack, stack.libra.admission.tick) }] },
          },
        },
      ],
    });
  });

  it('fires when 5% of API requests in five minutes are answered 5xx', () => {
    const api = ref(stack, stack.libra.jobApi.httpApi);
    expect(alarmOf('ApiServerErrors')).toMatchObject({
      Threshold: 0.05,
      Metrics: [
        { Expression: 'IF(requests > 0, errors / requests, 0)' },
        {
          Id: 'errors',
          MetricStat: { Metric: { MetricName: '5xx', Dimensions: [{ Name: 'ApiId', Value: api }] } },
        },
        {
          Id: 'requests',
          MetricStat: { Metric: { MetricName: 'Count', Dimensions: [{ Name: 'ApiId', Value: api }] } },
        },
      ],
    });
  });

  it('fires per pool as soon as one job ends START_FAILED', () => {
    expect(alarmOf('StartFailedEtlNightly')).toMatchObject({
      Namespace: 'Libra',
      MetricName: 'startFailed',
      Dimensions: [
        { Name: 'pool', Value: 'etl-nightly' },
        { Name: 'service', Value: 'libra' },
      ],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
    });
    expect(alarmOf('StartFailedDefault').Dimensions).toContainEqual({ Name: 'pool', Value: 'default' });
  });

  it('fires per pool when the oldest wait nears maxWaitMinutes and when capacity stays saturated 30 minutes', () => {
    expect(alarmOf('OldestWaitEtlNightly')).toMatchObject({
      Namespace: 'Libra',
      MetricName: 'oldestWaitSeconds',
      Dimensions: [
        { Name: 'pool', Value: 'etl-nightly' },
        { Name: 'service', Value: 'libra' },
      ],
      Statistic: 'Maximum',
      // 80% of 60 minutes.
      Threshold: 2880,
    });
    expect(alarmOf('OldestWaitDefault').Threshold).toBe(1440);
    expect(alarmOf('CapacitySaturatedEtlNightly')).toMatchObject({
      Threshold: 0.95,
      EvaluationPeriods: 6,
      Metrics: [
        { Expression: 'MAX([cpu / cpuLimit, memory / memoryLimit, jobs / 4])', ReturnData: true },
        { Id: 'cpu', MetricStat: poolMetric('cpuUsed', 'etl-nightly', 'Average') },
        { Id: 'cpuLimit', MetricStat: poolMetric('cpuLimit', 'etl-nightly', 'Maximum') },
        { Id: 'memory', MetricStat: poolMetric('memoryUsed', 'etl-nightly', 'Average') },
        { Id: 'memoryLimit', MetricStat: poolMetric('memoryLimit', 'etl-nightly', 'Maximum') },
        { Id: 'jobs', MetricStat: poolMetric('jobsActive', 'etl-nightly', 'Average') },
      ],
    });
  });
});

interface Widget {
  readonly properties: { readonly title?: string; readonly metrics?: unknown[][] };
}

/** The dashboard's widgets, with the template's references left as text. */
function dashboardWidgets(): Widget[] {
  const parts = propertiesOf(template, stack, observability.dashboard).DashboardBody[
    'Fn::Join'
  ][1] as unknown[];
  const text = parts.map((part) => (typeof part === 'string' ? part : '<ref>')).join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

describe('Observability dashboard', () => {
  const body = JSON.stringify(propertiesOf(template, stack, observability.dashboard).DashboardBody);

  it('has the widgets of issue 5', () => {
    const titles = [...body.matchAll(/\\"title\\":\\"([^\\]+)\\"/g)].map((match) => match[1]);

    expect(titles).toEqual(
      expect.arrayContaining([
        'Submissions (queued)',
        'Admissions',
        'Rejections (queue full)',
        'Workflow executions by end',
        'Waiting jobs',
        'Oldest wait (s)',
        'Pool default: cores used / limit',
        'Pool default: memory used / limit (MiB)',
        'Pool etl-nightly: cores used / limit',
        'Pool etl-nightly: saturation (max share used)',
        'Function errors',
        'Function throttles',
        'Function duration p99 (ms)',
        'Dead-letter queue depth',
        'Webhook failures (notifier errors; retried by the workflow)',
        'Admission and workflow errors',
        'Jobs by final state',
        'Jobs by final state, per pool',
        'Job workflow duration (s)',
      ]),
    );
  });

  it('graphs jobs by final state: jobsFinished by pool and status, queue-wait timeouts counted once, in TIMEOUT', () => {
    const widget = dashboardWidgets().find((w) => w.properties.title === 'Jobs by final state');
    const metrics = widget?.properties.metrics ?? [];
    const expressions = metrics.flatMap((row) => {
      const options = row.at(-1) as { label?: string; expression?: string };
      return options.expression === undefined ? [] : [[options.label, options.expression]];
    });

    expect(expressions).toEqual([
      ['SUCCEEDED', 'SUM(FILL([succeeded0, succeeded1], 0))'],
      ['FAILED', 'SUM(FILL([failed0, failed1], 0))'],
      ['CANCELLED', 'SUM(FILL([cancelled0, cancelled1], 0))'],
      ['TIMEOUT (run or queue wait)', 'SUM(FILL([timeout0, timeout1], 0))'],
    ]);
    const inputs = Object.fromEntries(
      metrics
        .filter((row) => typeof row[0] === 'string')
        .map((row) => [(row.at(-1) as { id: string }).id, row.slice(0, -1)]),
    );
    expect(inputs.failed1).toEqual([
      'Libra',
      'jobsFinished',
      'pool',
      'etl-nightly',
      'service',
      'libra',
      'status',
      'FAILED',
    ]);
    // The job ender counts a queue-wait timeout in jobsFinished TIMEOUT: adding queueWaitExceeded counted it twice.
    expect(inputs.queue0).toBeUndefined();
    for (const pool of ['default', 'etl-nightly']) {
      for (const status of ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT']) {
        expect(body).toContain(
          `\\"Libra\\",\\"jobsFinished\\",\\"pool\\",\\"${pool}\\",\\"service\\",\\"libra\\",\\"status\\",\\"${status}\\"`,
        );
      }
    }
  });
  it('graphs every Libra function, and the Libra metrics of every pool', () => {
    for (const fn of [...Object.values(stack.libra.jobApi.functions), observability.workflowEnds]) {
      expect(body).toContain(logicalId(stack, fn));
    }
    for (const name of [
      'queued',
      'admitted',
      'rejected',
      'waiting',
      'oldestWaitSeconds',
      'cpuUsed',
      'memoryLimit',
    ]) {
      expect(body).toContain(
        `\\"Libra\\",\\"${name}\\",\\"pool\\",\\"etl-nightly\\",\\"service\\",\\"libra\\"`,
      );
    }
  });
});

describe('Observability: the jobs the workflow ends itself', () => {
  const fn = observability.workflowEnds;

  it('are counted by a function on the SUCCEEDED executions of the job state machine', () => {
    const workflow = stack.libra.workflow;
    expect(propertiesOf(template, stack, observability.workflowEndsRule)).toEqual({
      Description: expect.any(String),
      State: 'ENABLED',
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['SUCCEEDED'], stateMachineArn: [stack.resolve(workflow.stateMachineArn)] },
      },
      Targets: [{ Arn: getAtt(stack, fn, 'Arn'), Id: 'Target0' }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(stack, fn, 'Arn'),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(stack, observability.workflowEndsRule, 'Arn'),
    });
  });

  it('which may only write its own logs and traces, and reads no configuration', () => {
    const logs = getAtt(stack, fn.node.scope?.node.findChild('Logs') ?? fn, 'Arn');

    expect(allowedPermissions(template, roleOf(stack, fn))).toEqual(
      [
        permission('logs:CreateLogStream', logs),
        permission('logs:PutLogEvents', logs),
        permission('xray:PutTelemetryRecords', '*'),
        permission('xray:PutTraceSegments', '*'),
      ].sort(),
    );
    expect(Object.keys(environmentOf(template, stack, fn))).toEqual(['NODE_OPTIONS']);
  });
});

describe('Observability: cost', () => {
  const budgeted = libraStack({
    config: { pools: { 'etl-nightly': { monthlyBudgetUsd: 500 }, adhoc: {} } },
  });
  const budgetedTemplate = Template.fromStack(budgeted);
  const recorder = budgeted.libra.runRecorder;

  it('has a budget alarm, built by the run recorder, for each pool with a monthly budget: spend this month ≥ 80% of it', () => {
    expect(Object.keys(recorder.alarms)).toEqual(['EtlNightlyBudget']);
    const alarm = recorder.alarms.EtlNightlyBudget ?? budgeted;
    expect(budgeted.libra.observability.alarms.EtlNightlyBudget).toBe(alarm);
    expect(propertiesOf(budgetedTemplate, budgeted, alarm)).toMatchObject({
      ...poolMetric('monthSpendUsd', 'etl-nightly', 'Maximum').Metric,
      Period: 300,
      Statistic: 'Maximum',
      Threshold: 400,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [ref(budgeted, budgeted.libra.observability.topic)],
    });
  });

  it('graphs each pool’s run cost and its spend this month against its budget', () => {
    const body = JSON.stringify(
      propertiesOf(budgetedTemplate, budgeted, budgeted.libra.observability.dashboard).DashboardBody,
    );
    for (const pool of ['default', 'etl-nightly', 'adhoc']) {
      expect(body).toContain(
        `[\\"Libra\\",\\"runCostUsd\\",\\"pool\\",\\"${pool}\\",\\"service\\",\\"libra\\"`,
      );
      expect(body).toContain(
        `[\\"Libra\\",\\"monthSpendUsd\\",\\"pool\\",\\"${pool}\\",\\"service\\",\\"libra\\"`,
      );
    }
    expect(body).toContain('{\\"value\\":500,\\"label\\":\\"etl-nightly budget\\"');
  });
});
