import { describe, expect, it } from 'vitest';
import { toJSONSchema } from 'zod/v4/core';
import { targetsFromJson } from '#adapters/aws-backends.ts';
import { ConfigError, parseConfig, poolNamed } from '#core/config.ts';
import { keyedRecord, PROTO_KEY_MESSAGE } from '#core/keyed-record.ts';
import * as z from '#core/zod.ts';

/** Names every plain object answers for, though no one set them. */
const INHERITED = Object.getOwnPropertyNames(Object.prototype);

describe('keyedRecord', () => {
  const schema = keyedRecord(z.string().check(z.regex(/^[a-z_]+$/, 'lower case')), z.number());

  it('builds an object without a prototype, so an inherited name finds nothing', () => {
    const record = schema.parse({ a: 1 });
    expect(Object.getPrototypeOf(record)).toBeNull();
    for (const name of INHERITED) expect((record as Record<string, unknown>)[name], name).toBeUndefined();
  });

  it('keeps constructor as an ordinary key and refuses __proto__ by name', () => {
    expect(Object.entries(schema.parse({ constructor: 1 }))).toEqual([['constructor', 1]]);
    const result = schema.safeParse(JSON.parse('{"__proto__":1,"ok":2}'));
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => [i.path, i.message])).toEqual([
      [['__proto__'], PROTO_KEY_MESSAGE],
    ]);
  });

  it('is described in JSON Schema as the record it is', () => {
    expect(toJSONSchema(schema, { io: 'input' })).toMatchObject({
      type: 'object',
      propertyNames: { type: 'string', pattern: '^[a-z_]+$' },
      additionalProperties: { type: 'number' },
    });
  });

  it('names each bad key and each bad value under its key', () => {
    const result = schema.safeParse({ Bad: 1, good: 'x' });
    expect(result.error?.issues.map((i) => [i.path, i.message])).toEqual([
      [['Bad'], 'lower case'],
      [['good'], expect.stringMatching(/expected number/)],
    ]);
  });
});

describe('records Libra reads from its configuration', () => {
  it('has no pool named after an inherited name unless configured, while a pool may be called constructor', () => {
    const config = parseConfig({ pools: { etl: {} } });
    for (const name of INHERITED) expect(poolNamed(config, name), name).toBeUndefined();
    expect(poolNamed(config, 'etl')).toBeDefined();

    const withConstructor = parseConfig({ pools: { constructor: { cpuCores: 2 } } });
    expect(poolNamed(withConstructor, 'constructor')?.cpuCores).toBe(2);
  });

  it('refuses a pool named __proto__, which zod alone dropped without a word', () => {
    expect(() => parseConfig(JSON.parse('{"pools":{"__proto__":{"cpuCores":2}}}'))).toThrow(
      `libra.pools.__proto__: ${PROTO_KEY_MESSAGE}`,
    );
  });

  it('finds no deployed targets for a pool LIBRA_BACKENDS does not name, whatever it is called', () => {
    const targets = targetsFromJson(
      JSON.stringify({ etl: { emrServerless: { applicationId: 'app', executionRoleArn: 'role' } } }),
    );
    expect(targets('etl').emrServerless?.applicationId).toBe('app');
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(() => targets(name), name).toThrow(ConfigError);
      expect(() => targets(name), name).toThrow(`LIBRA_BACKENDS has no pool '${name}'`);
    }
  });
});
