/**
 * docs/api.md: the API reference rendered from the OpenAPI document, so that what people read is
 * what the document says (bin/build-openapi.ts writes both; a test keeps both in step).
 */

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is open-ended JSON
type Json = Record<string, any>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** A table cell: no line breaks, pipes escaped. */
const cell = (text: string) => text.replaceAll('\n', ' ').replaceAll('|', '\\|');
const code = (text: string) => `\`${text}\``;
const anchor = (name: string) => `#${name.toLowerCase()}`;
const refName = (ref: string) => ref.split('/').at(-1) ?? ref;

/** A schema in a few words: its type, or a link to the component it names. */
function typeOf(schema: Json | undefined): string {
  if (schema === undefined || Object.keys(schema).length === 0) return 'any';
  if (typeof schema.$ref === 'string') {
    const name = refName(schema.$ref);
    return `[${name}](${anchor(name)})`;
  }
  if (schema.const !== undefined) return code(JSON.stringify(schema.const));
  if (Array.isArray(schema.enum)) return schema.enum.map((value: unknown) => code(String(value))).join(', ');
  if (Array.isArray(schema.oneOf)) return `one of ${schema.oneOf.map(typeOf).join(', ')}`;
  if (schema.type === 'array') return `array of ${typeOf(schema.items)}`;
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object' && !schema.properties) {
    return `map of ${typeOf(schema.propertyNames ?? { type: 'string' })} → ${typeOf(schema.additionalProperties)}`;
  }
  return String(schema.type ?? 'any');
}

/** The constraints a schema puts on its value, in words. */
function constraintsOf(schema: Json | undefined): string[] {
  if (!schema) return [];
  const found: string[] = [];
  const range = (min: unknown, max: unknown, unit: string) => {
    if (min !== undefined && max !== undefined) found.push(`${min} to ${max}${unit}`);
    else if (min !== undefined) found.push(`at least ${min}${unit}`);
    else if (max !== undefined) found.push(`at most ${max}${unit}`);
  };
  range(schema.minimum, schema.maximum, '');
  range(schema.minLength, schema.maxLength, ' characters');
  range(schema.minItems, schema.maxItems, ' items');
  if (schema.format) found.push(`format ${schema.format}`);
  if (schema.pattern) found.push(`pattern ${code(schema.pattern)}`);
  if (schema.type === 'object' && schema.propertyNames) {
    const keys = constraintsOf(schema.propertyNames);
    if (keys.length > 0) found.push(`keys: ${keys.join(', ')}`);
  }
  if (schema.type === 'object' && typeof schema.additionalProperties === 'object') {
    const values = constraintsOf(schema.additionalProperties);
    if (values.length > 0) found.push(`values: ${values.join(', ')}`);
  }
  if (schema.type === 'array') found.push(...constraintsOf(schema.items).map((c) => `each ${c}`));
  return found;
}

function describe(schema: Json | undefined, description?: string): string {
  const parts = [description ?? schema?.description ?? '', ...constraintsOf(schema).map((c) => `(${c})`)];
  return cell(parts.filter(Boolean).join(' '));
}

function resolve(doc: Json, value: Json): Json {
  if (typeof value.$ref !== 'string') return value;
  const path = (value.$ref as string).replace(/^#\//, '').split('/');
  return path.reduce<Json>((node, part) => node[part.replaceAll('~1', '/').replaceAll('~0', '~')], doc);
}

function operationSection(doc: Json, path: string, method: string, item: Json, operation: Json): string[] {
  const lines = [`### ${code(`${method.toUpperCase()} ${path}`)}: ${operation.summary}`, ''];
  if (operation.description) lines.push(operation.description, '');
  if (item.servers || operation.servers) {
    const servers = (operation.servers ?? item.servers) as Json[];
    lines.push(`Served by: ${servers.map((s) => `${s.description} (${code(s.url)})`).join(', ')}.`, '');
  }
  const security = (operation.security ?? doc.security) as Json[];
  lines.push(
    security.length === 0
      ? 'Authentication: none.'
      : `Authentication: ${security.map((s) => Object.keys(s).map((k) => `[${k}](#authentication)`)).join(' or ')}.`,
    '',
  );
  const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p: Json) =>
    resolve(doc, p),
  );
  if (parameters.length > 0) {
    lines.push('| parameter | in | type | required | description |', '| --- | --- | --- | --- | --- |');
    for (const p of parameters) {
      lines.push(
        `| ${code(p.name)} | ${p.in} | ${typeOf(p.schema)} | ${p.required ? 'yes' : 'no'} | ${describe(p.schema, p.description)} |`,
      );
    }
    lines.push('');
  }
  if (operation.requestBody) {
    const body = resolve(doc, operation.requestBody);
    for (const [media, content] of Object.entries(body.content as Record<string, Json>)) {
      lines.push(
        `Request body (${code(media)}${body.required ? ', required' : ''}): ${typeOf(content.schema)}.`,
        '',
      );
    }
  }
  lines.push('| status | body | headers | meaning |', '| --- | --- | --- | --- |');
  for (const [status, raw] of Object.entries(operation.responses as Record<string, Json>)) {
    const response = resolve(doc, raw);
    const bodies = Object.entries((response.content ?? {}) as Record<string, Json>)
      .map(([media, content]) => `${code(media)} ${typeOf(content.schema)}`)
      .join('; ');
    const headers = Object.entries((response.headers ?? {}) as Record<string, Json>)
      .map(([name, header]) => `${code(name)}${header.required ? '' : ' (optional)'}: ${header.description}`)
      .join('; ');
    lines.push(`| ${status} | ${cell(bodies)} | ${cell(headers)} | ${cell(response.description)} |`);
  }
  lines.push('');
  return lines;
}

function schemaSection(name: string, schema: Json): string[] {
  const lines = [`### ${name}`, ''];
  if (schema.description) lines.push(schema.description, '');
  if (schema.type !== 'object' || !schema.properties) {
    const constraints = constraintsOf(schema);
    lines.push(
      `${typeOf({ ...schema, description: undefined })}${constraints.length ? ` (${constraints.join(', ')})` : ''}.`,
      '',
    );
    return lines;
  }
  const required = new Set<string>(schema.required ?? []);
  lines.push('| field | type | required | default | description |', '| --- | --- | --- | --- | --- |');
  for (const [field, property] of Object.entries(schema.properties as Record<string, Json>)) {
    const fallback = property.default === undefined ? '' : code(JSON.stringify(property.default));
    lines.push(
      `| ${code(field)} | ${typeOf(property)} | ${required.has(field) ? 'yes' : 'no'} | ${cell(fallback)} | ${describe(property)} |`,
    );
  }
  lines.push('');
  const rules: string[] = [];
  if (schema.additionalProperties === false) rules.push('No other fields.');
  if (Array.isArray(schema.oneOf)) {
    rules.push(
      `Exactly one of: ${schema.oneOf.map((option: Json) => `${option.title} (${(option.required ?? []).map(code).join(', ')})`).join('; ')}.`,
    );
  }
  for (const [field, needs] of Object.entries((schema.dependentRequired ?? {}) as Record<string, string[]>)) {
    rules.push(`With ${code(field)}, also ${needs.map(code).join(', ')}.`);
  }
  for (const [field, dependent] of Object.entries((schema.dependentSchemas ?? {}) as Record<string, Json>)) {
    const needs = [
      ...(dependent.required ?? []).map((name: string) => `${code(name)} is required`),
      ...Object.entries((dependent.properties ?? {}) as Record<string, Json>)
        .filter(([, property]) => property.not?.pattern)
        .map(([name, property]) => `${code(name)} must not match ${code(property.not.pattern)}`),
    ];
    rules.push(`With ${code(field)}, ${needs.join(' and ')}.`);
  }
  if (schema.discriminator) rules.push(`Told apart by ${code(schema.discriminator.propertyName)}.`);
  if (rules.length > 0) lines.push(rules.join(' '), '');
  return lines;
}

export function renderReference(doc: Json): string {
  const lines = [
    `# ${doc.info.title} API reference (version ${doc.info.version})`,
    '',
    'Rendered from [openapi.json](openapi.json), the OpenAPI 3.1 document generated from the zod',
    'schemas the handlers use (`npm run build:openapi` writes both files; do not edit them by hand).',
    'The local runtime serves the document at `GET /api/v1/openapi.json`, and so does a deployed stack',
    '([deploy.md](deploy.md#the-openapi-document)).',
    '',
    doc.info.description,
    '',
    '## Servers',
    '',
    ...(doc.servers as Json[]).map((server) => `- ${code(server.url)}: ${server.description}`),
    '',
    '## Authentication',
    '',
    '| scheme | kind | description |',
    '| --- | --- | --- |',
    ...Object.entries(doc.components.securitySchemes as Record<string, Json>).map(
      ([name, scheme]) =>
        `| ${code(name)} | ${scheme.type === 'http' ? `${scheme.scheme} (${scheme.bearerFormat})` : `${scheme.type} in ${code(scheme.name)} header`} | ${cell(scheme.description)} |`,
    ),
    '',
    '## Operations',
    '',
  ];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const method of METHODS) {
      if (item[method]) lines.push(...operationSection(doc, path, method, item, item[method]));
    }
  }
  lines.push('## Schemas', '');
  for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
    lines.push(...schemaSection(name, schema));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
