import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AWS_LIMITS } from '#core/aws-limits.generated.ts';
import {
  awsLimit,
  awsPattern,
  MAX_SPARK_CONF_KEYS,
  MAX_SPARK_CONF_VALUE_LENGTH,
  MAX_USER_TAGS,
  stringProblem,
} from '#core/aws-limits.ts';

describe('AWS model patterns, read as AWS applies them', () => {
  it('match the whole value, not a part of it', () => {
    const tagValue = awsPattern('[A-Za-z0-9 /_.:=+@-]*');
    expect(tagValue.test('data eng/2026:q1+x=y@z_a.b-c')).toBe(true);
    expect(tagValue.test('')).toBe(true);
    expect(tagValue.test('data,eng')).toBe(false);
    expect(tagValue.test('José')).toBe(false);
  });

  it("give '.' Java's meaning: no line terminator", () => {
    for (const terminator of ['\n', '\r', '\u0085', '\u2028', '\u2029']) {
      expect(awsPattern('a.b').test(`a${terminator}b`), JSON.stringify(terminator)).toBe(false);
    }
    const nonBlank = awsPattern('.*\\S.*');
    expect(nonBlank.test(' a ')).toBe(true);
    expect(nonBlank.test('')).toBe(false);
    expect(nonBlank.test('   ')).toBe(false);
    expect(nonBlank.test('a\nb')).toBe(false);
  });

  it('take the punctuation escapes Java allows', () => {
    const name = awsPattern('[\\.\\-_\\#A-Za-z0-9]+');
    expect(name.test('job-1.a_b#2')).toBe(true);
    expect(name.test('job 1')).toBe(false);
    expect(name.test('\\')).toBe(false);
  });

  it("leave '.' alone inside a class and when escaped", () => {
    expect(awsPattern('[.]+').test('...')).toBe(true);
    expect(awsPattern('[.]+').test('ab')).toBe(false);
    expect(awsPattern('a\\.b').test('a.b')).toBe(true);
    expect(awsPattern('a\\.b').test('axb')).toBe(false);
  });

  it('compile for every pattern the derived limits and the checked-in shapes hold', () => {
    const shapes = JSON.parse(readFileSync('test/contract/aws-shapes.json', 'utf8')) as {
      shapes: Record<string, Record<string, { pattern?: string }>>;
    };
    const patterns = [
      ...Object.values(AWS_LIMITS).flatMap((limits) =>
        Object.values(limits).flatMap((limit) => ('pattern' in limit ? [limit.pattern] : [])),
      ),
      ...Object.values(shapes.shapes).flatMap((byName) =>
        Object.values(byName).flatMap((shape) => (shape.pattern ? [shape.pattern] : [])),
      ),
    ];
    expect(patterns.length).toBeGreaterThan(30);
    for (const pattern of patterns) expect(() => awsPattern(pattern), pattern).not.toThrow();
  });
});

describe('AWS limits as submit reports them', () => {
  it('name the limit broken, with its source in the model', () => {
    const value = awsLimit('emrServerless', 'propertyValue');
    expect(stringProblem('x'.repeat(1024), value)).toBeUndefined();
    expect(stringProblem('x'.repeat(1025), value)).toBe(
      'at most 1024 characters, got 1025 (AWS: emr-serverless StartJobRun configurationOverrides.applicationConfiguration[].properties{value}, max 1024)',
    );
    expect(stringProblem('', awsLimit('eks', 'entryPointArgument'))).toMatch(
      /^must not be empty \(AWS: emr-containers/,
    );
    expect(stringProblem('a,b', awsLimit('emrServerless', 'tagValue'))).toMatch(/^may hold only what/);
  });

  it("put the request schema's caps where the models put them", () => {
    expect(MAX_SPARK_CONF_VALUE_LENGTH).toBe(1024);
    expect(MAX_SPARK_CONF_KEYS).toBe(100 + 14);
    expect(MAX_USER_TAGS).toBe(200 - 2);
  });
});
