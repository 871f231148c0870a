import { Stack } from 'aws-cdk-lib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Libra } from '../../lib/libra.ts';
import { testApp } from './app.ts';

/** The definition the stack reads in place of state-machines/job.asl.json, per test. */
const definition = vi.hoisted(() => ({ text: undefined as string | undefined }));

vi.mock('../../state-machines/job-workflow.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../state-machines/job-workflow.ts')>();
  return { ...original, readJobWorkflow: () => definition.text ?? original.readJobWorkflow() };
});

/** `${name}`, as job.asl.json writes a placeholder. */
function placeholder(name: string): string {
  return ['${', name, '}'].join('');
}

function task(resource: string, parameters: Record<string, unknown>): string {
  return JSON.stringify({
    StartAt: 'Only',
    States: { Only: { Type: 'Task', Resource: resource, Parameters: parameters, End: true } },
  });
}

function synthesize(): void {
  new Libra(new Stack(testApp(), 'Test'), 'Libra');
}

describe('JobWorkflow definition checks', () => {
  afterEach(() => {
    definition.text = undefined;
  });

  it('fails synthesis when the ASL uses a placeholder JOB_WORKFLOW_PLACEHOLDERS lacks', () => {
    definition.text = task('arn:aws:states:::dynamodb:putItem', {
      TableName: placeholder('JobTableName'),
      Item: { pk: { S: placeholder('AuditTableName') } },
    });

    expect(synthesize).toThrow(/uses \$\{AuditTableName\}, which JOB_WORKFLOW_PLACEHOLDERS does not list/);
  });

  it('fails synthesis when a task uses an integration the stack grants nothing for', () => {
    definition.text = task('arn:aws:states:::sns:publish', { TopicArn: 'arn:aws:sns:eu-west-1:1:t' });

    expect(synthesize).toThrow(
      /task Only uses arn:aws:states:::sns:publish, for which the stack grants nothing/,
    );
  });

  it('fails synthesis when a task names its table, queue or function other than by its placeholder', () => {
    definition.text = task('arn:aws:states:::dynamodb:updateItem', { TableName: 'someone-elses-table' });
    expect(synthesize).toThrow(
      /task Only must name its resource with one of \$\{JobTableName\}, not a literal/,
    );

    definition.text = task('arn:aws:states:::lambda:invoke', { 'FunctionName.$': '$.target' });
    expect(synthesize).toThrow(/task Only must name its resource with one of \$\{NotifierFunctionArn\}/);
  });

  it('finds tasks inside Parallel branches too', () => {
    definition.text = JSON.stringify({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          End: true,
          Branches: [JSON.parse(task('arn:aws:states:::sns:publish', {}))],
        },
      },
    });

    expect(synthesize).toThrow(/sns:publish/);
  });
});
