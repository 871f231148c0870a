import * as z from './zod.ts';

/**
 * A map whose keys come from outside — a request's tags and Spark conf, the configuration's
 * pools — read into an object without a prototype, so that a key is only ever a name: a
 * `constructor` or `toString` key is kept as any other, and looking up a name that was not sent
 * finds nothing inherited (a plain object answers `pools['toString']` with a function).
 *
 * `__proto__` is refused by name, with a reason. zod's own record drops it without a word, since
 * assigning it would set the prototype of the object it builds; and the same happens on every
 * plain object such a key would pass through afterwards: the AWS SDK for JavaScript cannot write
 * it to DynamoDB (its marshaller takes it for the prototype, and the write fails) nor read it back.
 * A key that cannot be kept faithfully all the way is refused at the door instead.
 */
export const PROTO_KEY_MESSAGE =
  "__proto__ cannot be a key: JavaScript takes it for an object's prototype, so it would be lost on the way (the AWS SDK cannot even store it)";

type Keyed<V> = Record<string, V>;

const isPlainObject = (value: unknown): value is Readonly<Record<string, unknown>> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

/**
 * A record of `key` → `value` built on a null prototype. Every problem is reported under its key
 * (`<key>` or `<key>.<path in the value>`), with the key's or value's own message. Checks on the
 * whole record are passed here, not added with `.check()`: that makes a clone, and a clone is no
 * longer described as a record in JSON Schema (the description is set on this instance).
 */
export function keyedRecord<V extends z.ZodMiniType>(
  key: z.ZodMiniType<string, string>,
  value: V,
  ...checks: z.core.$ZodCheck<Keyed<z.output<V>>>[]
) {
  const pipe = z.pipe(
    z.custom<Readonly<Record<string, z.input<V>>>>(isPlainObject, {
      error: (issue) =>
        `expected an object, got ${Array.isArray(issue.input) ? 'an array' : typeof issue.input}`,
    }),
    z.transform((input, payload) => {
      const record: Keyed<z.output<V>> = Object.create(null);
      const refuse = (path: PropertyKey[], message: string, at: unknown) =>
        payload.issues.push({ code: 'custom', path, message, input: at });
      for (const name of Object.keys(input)) {
        if (name === '__proto__') {
          refuse([name], PROTO_KEY_MESSAGE, name);
          continue;
        }
        const parsedKey = key.safeParse(name);
        if (!parsedKey.success) {
          for (const issue of parsedKey.error.issues) refuse([name], issue.message, name);
          continue;
        }
        const parsedValue = value.safeParse(input[name]);
        if (!parsedValue.success) {
          // Kept whole (unknown keys stay `unrecognized_keys`), under the key.
          for (const issue of parsedValue.error.issues) {
            payload.issues.push({ ...issue, path: [name, ...issue.path] } as z.core.$ZodRawIssue);
          }
          continue;
        }
        record[name] = parsedValue.data as z.output<V>;
      }
      return record;
    }),
  );
  // Described in JSON Schema (the docs' tests, a generated contract) as the record of key → value
  // it is; the checked clone too, and JSON Schema output reads a clone's parent as well.
  const described = z.record(key, value);
  pipe._zod.processJSONSchema = (ctx, json, params) => ctx.processors.record?.(described, ctx, json, params);
  if (checks.length === 0) return pipe;
  const checked = pipe.check(...checks);
  checked._zod.processJSONSchema = pipe._zod.processJSONSchema;
  return checked;
}
