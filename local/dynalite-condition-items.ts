import { createRequire } from 'node:module';

/**
 * DynamoDB's `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'` for dynalite, whose 4.0.0 predates
 * it and ignores it: a PutItem, UpdateItem or DeleteItem refused by its condition then carries the
 * item as the condition found it (none when there was none), as DynamoDB answers. Without it the
 * stores still work (they read the item instead), but the local runtime and the tests would make
 * one request more per refusal than Libra makes on AWS. moto implements the parameter itself; the
 * store differential (test/moto/store-differential.test.ts) holds the two to one answer.
 *
 * dynalite's actions call `checkConditional` on its db module's exports at each write, under the
 * item's lock, with the item as stored: wrapping that one export, and letting the parameter
 * through the validation of the three writes, is the whole change.
 */
interface ConditionRefusal {
  body: Record<string, unknown>;
}
type CheckConditional = (data: Record<string, unknown>, existing: unknown) => ConditionRefusal | undefined;

let installed = false;

/** The writes DynamoDB takes the parameter on; dynalite drops a parameter its validation does not list. */
const WRITES = ['putItem', 'updateItem', 'deleteItem'] as const;

export function installConditionCheckItems(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  for (const write of WRITES) {
    const { types } = require(`dynalite/validations/${write}.js`) as { types: Record<string, unknown> };
    types.ReturnValuesOnConditionCheckFailure = { type: 'String', enum: ['ALL_OLD', 'NONE'] };
  }
  const db = require('dynalite/db/index.js') as { checkConditional: CheckConditional };
  const check = db.checkConditional;
  db.checkConditional = (data, existing) => {
    const refusal = check(data, existing);
    if (refusal && existing && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
      refusal.body = { ...refusal.body, Item: existing };
    }
    return refusal;
  };
  installed = true;
}
