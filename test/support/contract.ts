import { appendFileSync, readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/**
 * The API's contract, checked on every answer a test receives: the operation is found by method
 * and path in docs/openapi.json, the status must be one the operation documents, the content
 * type one that status documents, every required header present and each documented header
 * valid, and the body valid against the schema (Ajv, JSON Schema 2020-12, formats checked). A
 * request no operation serves must get API Gateway's own 404.
 *
 * `checkAnswer` is called by the tests' HTTP helpers: test/support/api.ts for handler-level calls,
 * and the fetch every integration test uses (test/support/contract-setup.ts). With
 * LIBRA_CONTRACT_LOG set, each checked answer appends one line to that file (for counting).
 */

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is open-ended JSON
type Json = Record<string, any>;

export const OPENAPI_FILE = new URL('../../docs/openapi.json', import.meta.url);
const DOCUMENT_ID = 'https://libra.invalid/openapi.json';

export interface Answer {
  readonly method: string;
  /** The request's path, as sent (percent-encoded), without the query. */
  readonly path: string;
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text ('' when none). */
  readonly body: string;
}

interface Operation {
  readonly id: string;
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  readonly pointer: string;
  readonly operation: Json;
}

/** A JSON pointer segment (RFC 6901). */
const segment = (name: string) => name.replaceAll('~', '~0').replaceAll('/', '~1');

class Contract {
  readonly document: Json;
  readonly operations: readonly Operation[];
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(document: Json) {
    this.document = document;
    this.#ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, discriminator: true });
    (addFormatsModule as unknown as (ajv: Ajv2020) => void)(this.#ajv);
    // The document's own members are no JSON Schema keywords: known, and not schemas themselves.
    this.#ajv.addVocabulary([
      'openapi',
      'info',
      'jsonSchemaDialect',
      'servers',
      'paths',
      'webhooks',
      'components',
      'security',
      'tags',
      'externalDocs',
    ]);
    this.#ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    const operations: Operation[] = [];
    for (const [template, item] of Object.entries(document.paths as Record<string, Json>)) {
      const source = template
        .split('/')
        .map((part) => (/^\{\w+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
        .join('/');
      for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
        const operation = item[method] as Json | undefined;
        if (!operation) continue;
        operations.push({
          id: operation.operationId,
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${source}$`),
          pointer: `#/paths/${segment(template)}/${method}`,
          operation,
        });
      }
    }
    this.operations = operations;
  }

  /** The component a `$ref` names, followed until it is no reference. */
  resolve(value: Json): Json {
    let current = value;
    for (let depth = 0; typeof current.$ref === 'string'; depth++) {
      if (depth > 10) throw new Error(`reference loop at ${value.$ref}`);
      const path = (current.$ref as string).replace(/^#\//, '').split('/');
      current = path.reduce<Json>(
        (node, part) => node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')],
        this.document,
      );
      if (current === undefined) throw new Error(`unresolved reference ${value.$ref}`);
    }
    return current;
  }

  /** The schema at a pointer into the document, compiled once. */
  validator(pointer: string): ValidateFunction {
    let validate = this.#validators.get(pointer);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `${DOCUMENT_ID}${pointer}` });
      this.#validators.set(pointer, validate);
    }
    return validate;
  }

  find(method: string, path: string): Operation | undefined {
    return this.operations.find((op) => op.method === method && op.pattern.test(path));
  }

  errorsOf(validate: ValidateFunction, value: unknown): string[] {
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (error) =>
        `${error.instancePath || '(root)'} ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`,
    );
  }
}

let loaded: Contract | undefined;

/** The committed document (test/unit/openapi.test.ts keeps it equal to the generator's). */
export function contract(): Contract {
  loaded ??= new Contract(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Json);
  return loaded;
}

const JSON_MEDIA = /^application\/([\w.+-]+\+)?json$/;

/** What is wrong with an answer by the document: nothing is an empty list. */
export function contractProblems(answer: Answer): { operation: string; problems: string[] } {
  const c = contract();
  const method = answer.method.toUpperCase();
  const op = c.find(method, answer.path);
  if (!op) {
    // No route: API Gateway's own answer, as the local edge gives it.
    const problems =
      answer.status === 404 && answer.body === '{"message":"Not Found"}'
        ? []
        : [
            `${method} ${answer.path} matches no operation, and the answer is not API Gateway's 404 but ${answer.status} ${answer.body.slice(0, 200)}`,
          ];
    return { operation: `(no route) ${method}`, problems };
  }
  const name = `${op.id} ${answer.status}`;
  const responses = op.operation.responses as Json;
  const key = String(answer.status) in responses ? String(answer.status) : `${String(answer.status)[0]}XX`;
  if (!(key in responses)) {
    return {
      operation: name,
      problems: [
        `${op.id}: status ${answer.status} is not documented (${Object.keys(responses).join(', ')}); body ${answer.body.slice(0, 300)}`,
      ],
    };
  }
  const response = c.resolve(responses[key] as Json);
  const problems: string[] = [];
  const responsePointer =
    ((responses[key] as Json).$ref as string | undefined) ?? `${op.pointer}/responses/${key}`;

  for (const [header, spec] of Object.entries((response.headers ?? {}) as Record<string, Json>)) {
    const value = answer.headers[header.toLowerCase()];
    if (value === undefined) {
      if (spec.required) problems.push(`header ${header} is required`);
      continue;
    }
    const schema = c.resolve(spec).schema as Json;
    const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
    for (const error of c.errorsOf(
      c.validator(`${responsePointer}/headers/${segment(header)}/schema`),
      typed,
    )) {
      problems.push(`header ${header}: ${error}`);
    }
  }

  const content = (response.content ?? {}) as Record<string, Json>;
  const media = (answer.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (Object.keys(content).length === 0) {
    if (answer.body !== '') problems.push(`no body is documented, got ${answer.body.slice(0, 200)}`);
    return { operation: name, problems };
  }
  if (!(media in content)) {
    problems.push(`content type ${media || '(none)'} is not documented (${Object.keys(content).join(', ')})`);
    return { operation: name, problems };
  }
  let value: unknown = answer.body;
  if (JSON_MEDIA.test(media)) {
    try {
      value = JSON.parse(answer.body);
    } catch {
      problems.push(`the body is not JSON: ${answer.body.slice(0, 200)}`);
      return { operation: name, problems };
    }
  }
  const schemaPointer = `${responsePointer}/content/${segment(media)}/schema`;
  for (const error of c.errorsOf(c.validator(schemaPointer), value)) problems.push(`body ${error}`);
  return { operation: name, problems };
}

/** Throws when the answer breaks the contract; counts it otherwise. */
export function checkAnswer(answer: Answer): void {
  const { operation, problems } = contractProblems(answer);
  if (problems.length > 0) {
    throw new ContractViolation(
      `${answer.method} ${answer.path} → ${answer.status} breaks docs/openapi.json:\n  ${problems.join('\n  ')}\n  the body: ${answer.body.slice(0, 2000)}`,
    );
  }
  const log = process.env.LIBRA_CONTRACT_LOG;
  if (log) appendFileSync(log, `${operation}\n`);
}

export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}
