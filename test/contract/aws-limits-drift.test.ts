import { describe, expect, it } from 'vitest';
import { countLimits, derive, drift, LIMITS_FILE, SHAPES_FILE } from '../../bin/derive-aws-limits.ts';

describe('AWS limits derived from the API models', () => {
  it('match what bin/derive-aws-limits.ts derives from the installed botocore (run `npm run derive:aws-limits` when not)', async () => {
    // derive() fails with one line when botocore is missing: the check never passes without the models.
    const derived = derive();

    expect(await drift(derived)).toEqual([]);
    // Every limit the submit check reads is there, on both backends and for StartExecution.
    expect(Object.keys(derived.limits).sort()).toEqual(['eks', 'emrServerless', 'stepFunctions']);
    expect(countLimits(derived)).toBeGreaterThanOrEqual(38);
    expect(derived.limits.stepFunctions.input?.max).toBe(262_144);
    expect(LIMITS_FILE).toMatch(/aws-limits\.generated\.ts$/);
    expect(SHAPES_FILE).toMatch(/aws-shapes\.json$/);
  });

  it('see a model that changed as drift', async () => {
    const derived = derive();
    const changed = structuredClone(derived) as { limits: { eks: Record<string, { max?: number }> } };
    (changed.limits.eks.tags as { max?: number }).max = 51;

    expect(await drift(changed as unknown as typeof derived)).toEqual([LIMITS_FILE]);
  });

  it('name a missing botocore in one line', () => {
    expect(() => derive('/nonexistent/botocore')).toThrow(
      /^botocore has no model for emr-serverless under \/nonexistent\/botocore\/data$/,
    );
  });
});
