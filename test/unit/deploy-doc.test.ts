import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toJSONSchema } from 'zod/v4/core';
import { libraConfigSchema, parseConfig } from '#core/config.ts';

/**
 * docs/deploy.md against the configuration schema (lambdas/core/config.ts): its reference table
 * names every key of the schema and no other, with the schema's defaults, and its cdk.json
 * example is a valid configuration.
 */

const DOC = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');

interface JsonSchema {
  readonly default?: unknown;
  readonly properties?: Record<string, JsonSchema>;
  readonly additionalProperties?: JsonSchema | boolean;
  readonly oneOf?: JsonSchema[];
  readonly anyOf?: JsonSchema[];
}

/**
 * Every leaf key of the schema, `<name>` standing for a pool, with its default: its own, or else
 * what the nearest default above it holds at that key (auth.mode's comes with auth's).
 */
function leaves(
  schema: JsonSchema,
  path: string[] = [],
  inherited: unknown = undefined,
): Map<string, unknown> {
  const found = new Map<string, unknown>();
  const defaulted = schema.default ?? inherited;
  const children: [string, JsonSchema][] = [
    ...Object.entries(schema.properties ?? {}),
    ...(typeof schema.additionalProperties === 'object'
      ? [['<name>', schema.additionalProperties] as [string, JsonSchema]]
      : []),
  ];
  const alternatives = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  if (children.length === 0 && alternatives.length === 0) {
    found.set(path.join('.'), defaulted);
    return found;
  }
  for (const [key, child] of children) {
    const below =
      key === '<name>' || typeof defaulted !== 'object' || defaulted === null
        ? undefined
        : (defaulted as Record<string, unknown>)[key];
    for (const [leaf, value] of leaves(child, [...path, key], below)) found.set(leaf, value);
  }
  for (const alternative of alternatives) {
    for (const [leaf, value] of leaves(alternative, path, defaulted)) {
      if (!found.has(leaf) || found.get(leaf) === undefined) found.set(leaf, value);
    }
  }
  return found;
}

/** The reference table's rows: key → the Default cell. */
function documentedKeys(): Map<string, string> {
  const section = DOC.split('## Configuration reference')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = /^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|/.exec(line);
    if (cells?.[1] && cells[2]) rows.set(cells[1], cells[2].trim());
  }
  return rows;
}

const schemaKeys = leaves(
  toJSONSchema(libraConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema,
);

describe('docs/deploy.md', () => {
  it('documents every configuration key of the schema, and only those', () => {
    expect([...documentedKeys().keys()].sort()).toEqual([...schemaKeys.keys()].sort());
  });

  it("gives each key the schema's default, or says it has none", () => {
    for (const [key, cell] of documentedKeys()) {
      const expected = schemaKeys.get(key);
      if (expected === undefined) {
        expect(cell, key).toMatch(/^none/);
      } else {
        const shown = /^`([^`]+)`/.exec(cell)?.[1];
        expect(shown, key).toBeDefined();
        expect(JSON.parse(shown ?? ''), key).toEqual(expected);
      }
    }
  });

  it('has a cdk.json example whose libra configuration is valid', () => {
    const examples = [...DOC.matchAll(/```json\n([\s\S]*?)```/g)]
      .map((match) => JSON.parse(match[1] ?? '') as { context?: { libra?: unknown } })
      .filter((example) => example.context?.libra !== undefined);

    expect(examples).toHaveLength(1);
    expect(() => parseConfig(examples[0]?.context?.libra)).not.toThrow();
  });
});
