import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { botocoreDir, loadModel } from '../../bin/derive-aws-limits.ts';

/**
 * What the run recorder reads of an ended EMR Serverless run (EmrRunControl.runUsage) is in AWS's
 * own model of GetJobRun, as botocore ships it: the billed and the total resource utilization,
 * each in vCPU-hours, memory GB-hours and storage GB-hours, and the execution time in seconds.
 */
describe("GetJobRun's usage fields in the EMR Serverless model", () => {
  const model = loadModel(join(botocoreDir(), 'data'), 'emr-serverless');
  const member = (shape: string, name: string) => {
    const ref = model.shapes[shape]?.members?.[name];
    if (!ref) throw new Error(`${shape} has no member ${name}`);
    return ref.shape;
  };

  it('answer a JobRun carrying billedResourceUtilization, totalResourceUtilization and totalExecutionDurationSeconds', () => {
    const output = model.operations.GetJobRun?.output?.shape ?? '';
    const jobRun = member(output, 'jobRun');

    for (const utilization of ['billedResourceUtilization', 'totalResourceUtilization']) {
      const shape = member(jobRun, utilization);
      for (const figure of ['vCPUHour', 'memoryGBHour', 'storageGBHour']) {
        expect(model.shapes[member(shape, figure)]?.type, `${utilization}.${figure}`).toBe('double');
      }
    }
    expect(model.shapes[member(jobRun, 'totalExecutionDurationSeconds')]?.type).toBe('integer');
  });
});
