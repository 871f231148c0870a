import { describe, expect, it } from 'vitest';
import { endsRun, JOB_STATUSES, type JobStatus, LIFECYCLE, startsRun } from '#core/job-states.ts';
import { buildJobWorkflow, jobWorkflowText } from '../../state-machines/build-job-workflow.ts';
import { readJobWorkflow } from '../../state-machines/job-workflow.ts';
import { type AslDefinition, allStates, jobWorkflowDefinition } from './definition.ts';

/**
 * state-machines/job.asl.json is generated (npm run build:workflow): the committed file must be
 * the builder's output, and every write it makes to the job record must be one LIFECYCLE allows,
 * stamping and clearing what LIFECYCLE says. The checks read the file itself, not the builder.
 */

interface UpdateItem {
  readonly Key: { readonly pk: Record<string, string> };
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, Record<string, unknown>>;
}

/** Every updateItem on a job record: the name of its state, the status it writes and its Parameters. */
function jobWrites(definition: AslDefinition): { name: string; to: JobStatus; update: UpdateItem }[] {
  const writes: { name: string; to: JobStatus; update: UpdateItem }[] = [];
  for (const { path, state } of allStates(definition)) {
    if (state.Resource !== 'arn:aws:states:::dynamodb:updateItem') continue;
    const update = (state as unknown as { Parameters: UpdateItem }).Parameters;
    if (!String(update.Key.pk['S.$']).includes("'JOB#{}'")) continue;
    const to = update.ExpressionAttributeValues[':to']?.S as JobStatus;
    writes.push({ name: path, to, update });
  }
  return writes;
}

/** How a job write differs from LIFECYCLE: one line per difference, none when it agrees. */
function differences({ name, to, update }: ReturnType<typeof jobWrites>[number]): string[] {
  const found: string[] = [];
  if (!(JOB_STATUSES as readonly string[]).includes(to)) return [`${name}: writes no known status (${to})`];
  const spec = LIFECYCLE[to];
  const names = update.ExpressionAttributeNames;
  const values = update.ExpressionAttributeValues;
  const [sets = '', removes = ''] = update.UpdateExpression.replace(/^SET /, '').split(' REMOVE ');
  const setNames = sets.split(', ').map((assignment) => assignment.split(' = ')[0] ?? '');
  const removed = removes === '' ? [] : removes.split(', ');

  const condition = /^#status IN \(((?::\w+(?:, )?)+)\)$/.exec(update.ConditionExpression);
  if (!condition || names['#status'] !== 'status') found.push(`${name}: condition is not "#status IN (…)"`);
  const sources = (condition?.[1] ?? '').split(', ').map((value) => values[value]?.S as JobStatus);
  for (const from of sources) {
    if (!spec.from.includes(from)) found.push(`${name}: ${from} → ${to} is no move of the lifecycle`);
  }
  if (!setNames.includes('#status') || names['#status'] !== 'status')
    found.push(`${name}: does not set #status`);

  const stamp = Object.entries(names).find(([, attribute]) => attribute === spec.timestamp)?.[0];
  const stamped = setNames.filter(
    (n) => n.startsWith('#') && !['#status', '#updatedAt', '#reason'].includes(n),
  );
  if (spec.timestamp === undefined && stamped.length > 0) found.push(`${name}: stamps ${stamped} for ${to}`);
  if (spec.timestamp !== undefined) {
    if (!stamp || !sets.includes(`${stamp} = if_not_exists(${stamp}, :now)`)) {
      found.push(`${name}: does not stamp ${spec.timestamp} once`);
    }
  }

  const setsReason = setNames.includes('#reason') && names['#reason'] === 'reason';
  const clearsReason = removed.includes('#reason') && names['#reason'] === 'reason';
  const expected = { sets: [true, false], clears: [false, true], keeps: [false, false] }[spec.reason];
  if (setsReason !== expected[0] || clearsReason !== expected[1]) {
    found.push(
      `${name}: a move to ${to} ${spec.reason} the reason, this one ${setsReason ? 'sets' : clearsReason ? 'clears' : 'keeps'} it`,
    );
  }
  if (setsReason && !values[':reason']?.M) found.push(`${name}: its reason is not a { code, message } map`);
  // The run's clock, which the duration warnings' index is keyed on.
  const startsClock = sets.includes('runStartedAt = :now') && sets.includes('warnAt = :now');
  if (startsRun(to) !== startsClock) {
    found.push(`${name}: a move to ${to} ${startsRun(to) ? 'must' : 'must not'} set runStartedAt and warnAt`);
  }
  if (endsRun(to) !== removed.includes('warnAt')) {
    found.push(`${name}: a move to ${to} ${endsRun(to) ? 'must' : 'must not'} remove warnAt`);
  }
  return found;
}

describe('job.asl.json is generated from the lifecycle', () => {
  it('is exactly what state-machines/build-job-workflow.ts writes (run npm run build:workflow)', () => {
    expect(readJobWorkflow()).toBe(jobWorkflowText());
  });

  it('moves the job only as LIFECYCLE allows, stamping and clearing what it says', () => {
    const writes = jobWrites(jobWorkflowDefinition());
    expect(writes.map((w) => w.name).sort()).toEqual(
      ['MarkFailed', 'MarkRefused', 'MarkRetrying', 'MarkRunning', 'MarkSucceeded', 'MarkTimeout'].sort(),
    );
    expect(writes.flatMap(differences)).toEqual([]);
  });

  it('each Mark admits where the workflow left the job, and CANCELLING where the lifecycle lets a cancel end that way', () => {
    // Written out again, so that a change to the lifecycle or the builder has to be made twice.
    const expected: Record<string, [JobStatus, JobStatus[]]> = {
      MarkRunning: ['RUNNING', ['SCHEDULED', 'RETRYING']],
      MarkSucceeded: ['SUCCEEDED', ['RUNNING', 'CANCELLING']],
      MarkFailed: ['FAILED', ['RUNNING', 'CANCELLING']],
      MarkRefused: ['FAILED', ['RUNNING', 'CANCELLING']],
      MarkRetrying: ['RETRYING', ['RUNNING']],
      MarkTimeout: ['TIMEOUT', ['RUNNING']],
    };
    for (const { name, to, update } of jobWrites(jobWorkflowDefinition())) {
      const values = update.ExpressionAttributeValues;
      const sources = Object.keys(values)
        .filter((key) => key.startsWith(':from'))
        .map((key) => values[key]?.S);
      expect([name, to, sources]).toEqual([name, ...(expected[name] ?? [])]);
    }
  });

  it('the checks fail on a condition, a stamp or a reason that differs from the spec', () => {
    const mutate = (state: string, change: (update: Record<string, unknown>) => void) => {
      const definition = buildJobWorkflow() as unknown as AslDefinition;
      change((definition.States[state] as unknown as { Parameters: Record<string, unknown> }).Parameters);
      return jobWrites(definition).flatMap(differences);
    };
    expect(
      mutate('MarkSucceeded', (u) => {
        (u.ExpressionAttributeValues as Record<string, unknown>)[':from1'] = { S: 'RETRYING' };
      }),
    ).toEqual(['MarkSucceeded: RETRYING → SUCCEEDED is no move of the lifecycle']);
    expect(
      mutate('MarkSucceeded', (u) => {
        u.UpdateExpression = String(u.UpdateExpression).replace(' REMOVE #reason, warnAt', ' REMOVE warnAt');
      }),
    ).toEqual(['MarkSucceeded: a move to SUCCEEDED clears the reason, this one keeps it']);
    expect(
      mutate('MarkFailed', (u) => {
        u.UpdateExpression = String(u.UpdateExpression).replace('#ts = if_not_exists(#ts, :now), ', '');
      }),
    ).toEqual(['MarkFailed: does not stamp completedAt once']);
    expect(
      mutate('MarkTimeout', (u) => {
        u.UpdateExpression = String(u.UpdateExpression).replace(', #reason = :reason', '');
      }),
    ).toEqual(['MarkTimeout: a move to TIMEOUT sets the reason, this one keeps it']);
    expect(
      mutate('MarkRunning', (u) => {
        u.UpdateExpression = String(u.UpdateExpression).replace(', warnAt = :now', '');
      }),
    ).toEqual(['MarkRunning: a move to RUNNING must set runStartedAt and warnAt']);
    expect(
      mutate('MarkRetrying', (u) => {
        u.UpdateExpression = String(u.UpdateExpression).replace('REMOVE warnAt, ', 'REMOVE ');
      }),
    ).toEqual(['MarkRetrying: a move to RETRYING must remove warnAt']);
  });

  it('names only AWS errors: each run state retries and catches its own integration’s', () => {
    const definition = jobWorkflowDefinition();
    const errors = allStates(definition).flatMap(({ path, state }) =>
      [
        ...(state.Retry ?? []),
        ...(((state as unknown as { Catch?: { ErrorEquals: string[] }[] }).Catch ?? []) as {
          ErrorEquals: string[];
        }[]),
      ].flatMap((entry) => entry.ErrorEquals.map((error) => [path, error] as const)),
    );
    const services = /^(States|DynamoDB|Lambda|EMRServerless|EmrServerless|EMRContainers|EmrContainers)\./;
    // WebhookDeliveryFailed is the notifier function's own error, as lambda:invoke reports it.
    expect(errors.filter(([, error]) => !services.test(error) && error !== 'WebhookDeliveryFailed')).toEqual(
      [],
    );
    const service = (state: string) =>
      new Set(errors.filter(([path]) => path === state).map(([, e]) => e.split('.')[0]));
    expect(service('RunOnEmrServerless')).toEqual(new Set(['States', 'EMRServerless', 'EmrServerless']));
    for (const eks of ['RunOnEks', 'RunOnEksWithTemplate']) {
      expect(service(eks)).toEqual(new Set(['States', 'EMRContainers', 'EmrContainers']));
    }
    expect(Object.keys(definition.States)).not.toContain('MarkUnavailable');
    expect(readJobWorkflow()).not.toMatch(/Libra\.|LOCAL_SPARK|JSONata|"Variables"|"Assign"/);
  });
});
