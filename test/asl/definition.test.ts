import { describe, expect, it } from 'vitest';
import { readJobWorkflow, substitute } from '../../state-machines/job-workflow.ts';
import { type AslDefinition, allStates, aslFiles, jobWorkflowDefinition, validateAsl } from './definition.ts';

/** Static checks of every ASL file: valid by asl-validator, and no Task left on a default timeout. */

const files = aslFiles();

describe('state-machines/*.asl.json', () => {
  it('finds the job workflow among the files', () => {
    expect(files.map((file) => file.name)).toContain('job.asl.json');
  });

  it.each(files)('$name passes asl-validator, paths and ARNs checked', ({ text }) => {
    const result = validateAsl(JSON.parse(text), { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('job.asl.json passes asl-validator with its placeholders filled as the stack fills them', () => {
    const filled = substitute(readJobWorkflow(), {
      JobTableName: 'libra-jobs',
      IntakeQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/libra-intake',
      NotifierFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:libra-notifier',
      FinalizerFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:libra-finalizer',
    });
    const result = validateAsl(JSON.parse(filled));
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('asl-validator does refuse a broken definition (the check can fail)', () => {
    const broken = structuredClone(jobWorkflowDefinition()) as AslDefinition & {
      States: Record<string, Record<string, unknown>>;
    };
    (broken.States.MarkRunning as Record<string, unknown>).Next = 'NoSuchState';
    expect(validateAsl(broken).isValid).toBe(false);
  });

  it.each(files)('$name: every Task has TimeoutSeconds or TimeoutSecondsPath', ({ text }) => {
    const tasks = allStates(JSON.parse(text) as AslDefinition).filter(({ state }) => state.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    const withoutTimeout = tasks
      .filter(({ state }) => state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined)
      .map(({ path }) => path);
    expect(withoutTimeout).toEqual([]);
  });
});
