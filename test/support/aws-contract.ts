import { readFileSync } from 'node:fs';
import * as sfn from '@aws-sdk/client-sfn';
import { StateMachine } from 'aws-local-stepfunctions';
import { StepFunctionsExecutions } from '#adapters/sfn-workflow-starter.ts';
import { awsPattern } from '#core/aws-limits.ts';
import type { JobRecord } from '#core/job-record.ts';
import { JobLauncher } from '#core/launcher.ts';
import type { ArtifactLocations, BackendTargets } from '#core/workflow-input.ts';
import type { ModelShape } from '../../bin/derive-aws-limits.ts';

/**
 * AWS's side of the contract, for tests: the calls a job makes, exactly as Libra makes them —
 * StartExecution through the real adapter at admission, StartJobRun as the workflow's Run state
 * builds it from the execution input (its Parameters applied by aws-local-stepfunctions) — and a
 * validator of a call against the operation's input shape in AWS's API models
 * (test/contract/aws-shapes.json, derived by bin/derive-aws-limits.ts).
 */

interface ShapesFile {
  operations: Record<
    'emrServerless' | 'eks' | 'stepFunctions',
    { service: string; operation: string; input: string }
  >;
  shapes: Record<string, Record<string, ModelShape>>;
}

const SHAPES = JSON.parse(
  readFileSync(new URL('../contract/aws-shapes.json', import.meta.url), 'utf8'),
) as ShapesFile;

export type AwsApi = keyof ShapesFile['operations'];

/**
 * Strings whose limit AWS counts in UTF-8 bytes: Step Functions' execution input ("256 KiB of
 * UTF-8 encoded data"). Every other length is counted in UTF-16 code units, never fewer than the
 * characters AWS counts.
 */
const BYTE_COUNTED = new Set(['stepfunctions/SensitiveData']);

/** Each way `value` breaks the operation's input shape: `path: problem`. Empty when AWS would take it. */
export function shapeViolations(api: AwsApi, value: unknown): string[] {
  const { service, input } = SHAPES.operations[api];
  const shapes = SHAPES.shapes[service] ?? {};
  const out: string[] = [];
  const visit = (name: string, v: unknown, path: string): void => {
    const shape = shapes[name];
    if (!shape) {
      out.push(`${path}: no shape ${name}`);
      return;
    }
    const bad = (message: string): void => {
      out.push(`${path}: ${message} (${service} ${name})`);
    };
    const size = (n: number, what: string) => {
      if (shape.min !== undefined && n < shape.min) bad(`${n} ${what} < min ${shape.min}`);
      if (shape.max !== undefined && n > shape.max) bad(`${n} ${what} > max ${shape.max}`);
    };
    switch (shape.type) {
      case 'structure': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          bad('not an object');
          return;
        }
        const members = shape.members ?? {};
        // Step Functions' integrations take members capitalized; the SDK takes them as modelled.
        const memberOf = (key: string) => members[key] ?? members[key.charAt(0).toLowerCase() + key.slice(1)];
        const given = Object.keys(v as object);
        for (const key of given) {
          const member = memberOf(key);
          if (!member) bad(`unknown member ${key}`);
          else visit(member.shape, (v as Record<string, unknown>)[key], `${path}.${key}`);
        }
        const present = new Set(given.map((key) => key.charAt(0).toLowerCase() + key.slice(1)));
        for (const required of shape.required ?? []) {
          if (!present.has(required.charAt(0).toLowerCase() + required.slice(1))) bad(`missing ${required}`);
        }
        if (shape.union && given.length !== 1) bad(`a union needs exactly one member, got ${given.length}`);
        return;
      }
      case 'list':
        if (!Array.isArray(v)) {
          bad('not a list');
          return;
        }
        size(v.length, 'members');
        v.forEach((item, i) => {
          visit(shape.member?.shape ?? '', item, `${path}[${i}]`);
        });
        return;
      case 'map': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          bad('not a map');
          return;
        }
        const entries = Object.entries(v as object);
        size(entries.length, 'entries');
        for (const [key, item] of entries) {
          visit(shape.key?.shape ?? '', key, `${path}{${key}}`);
          visit(shape.value?.shape ?? '', item, `${path}.${key}`);
        }
        return;
      }
      case 'string': {
        if (typeof v !== 'string') {
          bad('not a string');
          return;
        }
        const length = BYTE_COUNTED.has(`${service}/${name}`) ? Buffer.byteLength(v, 'utf8') : v.length;
        size(length, BYTE_COUNTED.has(`${service}/${name}`) ? 'bytes' : 'characters');
        if (shape.pattern !== undefined && !awsPattern(shape.pattern).test(v))
          bad(`does not match ${shape.pattern}`);
        if (shape.enum && !shape.enum.includes(v)) bad(`not one of ${shape.enum.join(', ')}`);
        return;
      }
      case 'integer':
      case 'long':
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          bad('not a whole number');
          return;
        }
        size(v, '');
        return;
      case 'boolean':
        if (typeof v !== 'boolean') bad('not a boolean');
        return;
      default:
        bad(`shape type ${shape.type} is not checked`);
    }
  };
  visit(input, value, '$');
  return out;
}

/** How many constraints (lengths, sizes, patterns, enums, required members) the shapes carry. */
export function constraintCount(): number {
  let count = 0;
  for (const shapes of Object.values(SHAPES.shapes)) {
    for (const shape of Object.values(shapes)) {
      count +=
        ['min', 'max', 'pattern', 'enum'].filter((k) => k in shape).length + (shape.required?.length ?? 0);
    }
  }
  return count;
}

interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
}
const ASL = JSON.parse(
  readFileSync(new URL('../../state-machines/job.asl.json', import.meta.url), 'utf8'),
) as { States: Record<string, AslState> };

const machines = new Map<string, StateMachine>();

/**
 * The Parameters a Task state of the job workflow sends for this execution input: the state's
 * Parameters, `.$` paths and intrinsic functions included, applied by aws-local-stepfunctions in a
 * machine of that one state.
 */
export async function taskParameters(stateName: string, input: unknown): Promise<Record<string, unknown>> {
  let machine = machines.get(stateName);
  if (!machine) {
    const state = ASL.States[stateName];
    if (state?.Type !== 'Task') throw new Error(`job.asl.json has no Task state ${stateName}`);
    machine = new StateMachine(
      {
        StartAt: stateName,
        States: {
          [stateName]: { Type: 'Task', Resource: state.Resource, Parameters: state.Parameters, End: true },
        },
      } as ConstructorParameters<typeof StateMachine>[0],
      { validationOptions: { checkArn: false } },
    );
    machines.set(stateName, machine);
  }
  let sent: Record<string, unknown> | undefined;
  const run = machine.run(input as Parameters<StateMachine['run']>[0], {
    overrides: {
      taskResourceLocalHandlers: {
        [stateName]: async (parameters: unknown) => {
          sent = parameters as Record<string, unknown>;
          return {};
        },
      },
    },
  });
  await run.result;
  if (!sent) throw new Error(`${stateName} sent nothing`);
  return sent;
}

/** The Run state the workflow's Choice takes for a backend. */
export const RUN_STATE = { 'emr-serverless': 'RunOnEmrServerless', eks: 'RunOnEks' } as const;

export const STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:123456789012:stateMachine:LibraJobWorkflow1A2B3C4D-AbCdEfGhIjKl';

/**
 * The StartExecution request admission sends for a job: the real launcher and Step Functions
 * adapter, with a client that records the command instead of sending it.
 */
export async function startExecutionRequest(
  job: JobRecord,
  targets: BackendTargets,
  locations: ArtifactLocations,
  retentionDays: number,
): Promise<sfn.StartExecutionCommandInput> {
  let sent: sfn.StartExecutionCommandInput | undefined;
  const client = {
    send: async (command: sfn.StartExecutionCommand) => {
      sent = command.input;
      return {};
    },
  } as unknown as sfn.SFNClient;
  const launcher = new JobLauncher({
    artifacts: { putCode: async () => undefined },
    locations,
    targets: () => targets,
    executions: new StepFunctionsExecutions(async () => ({ sdk: sfn, client }), STATE_MACHINE_ARN),
    retentionDays,
  });
  await launcher.start(job);
  if (!sent) throw new Error('no StartExecution sent');
  return sent;
}
