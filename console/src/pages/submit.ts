import type { FieldProblem, JobRequestInput, LibraClient } from 'libra-serverless/client';
import { useState } from 'preact/hooks';
import { errorText, FINAL_STATUSES, LibraApiError, STORED_STATUSES } from '../api.ts';
import { dataOf, usePolled } from '../hooks.ts';
import { html } from '../html.ts';

type Source = 'sql' | 'python' | 's3';

/**
 * The fields of the form, named as the request's fields are, so that a problem's `field`
 * (`retryPolicy.maxRetries`, `sparkConf.spark.x`, `tags`) finds the input it belongs beside.
 */
const FIELDS = [
  'code',
  'kind',
  'entryPoint',
  'entryPointArguments',
  'mainClass',
  'name',
  'pool',
  'priority',
  'executionMode',
  'timeoutMinutes',
  'retryPolicy.maxRetries',
  'retryPolicy.backoffMultiplier',
  'retryPolicy.initialDelaySeconds',
  'retryPolicy.maxDelaySeconds',
  'retryOnTimeout',
  'sparkConf',
  'tags',
  'notifications.webhook',
  'notifications.events',
  'retryPolicy',
  'notifications',
] as const;

/** The form field a problem is about: itself, else the nearest field above it; '' when none. */
export function fieldOf(problem: FieldProblem): string {
  const parts = problem.field.split('.');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('.');
    if ((FIELDS as readonly string[]).includes(candidate)) return candidate;
  }
  return '';
}

/** `key=value` lines as a record; a line without `=` is a key with an empty value. */
function pairs(text: string): Record<string, string> | undefined {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (lines.length === 0) return undefined;
  return Object.fromEntries(
    lines.map((line) => {
      const at = line.indexOf('=');
      return at < 0 ? [line, ''] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    }),
  );
}

/** A number field: absent when blank (the API's default), else as typed, for the API to judge. */
function numberOf(value: FormDataEntryValue | null): number | string | undefined {
  const text = String(value ?? '').trim();
  if (text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

/** The request exactly as the form says it: what is left blank is left out. */
export function requestOf(form: FormData): JobRequestInput {
  const text = (name: string) => String(form.get(name) ?? '').trim();
  const source = text('source') as Source;
  const request: Record<string, unknown> = {};
  if (source === 's3') {
    request.entryPoint = text('entryPoint');
    const args = String(form.get('entryPointArguments') ?? '')
      .split('\n')
      .map((a) => a.trim())
      .filter(Boolean);
    if (args.length > 0) request.entryPointArguments = args;
    if (text('mainClass')) request.mainClass = text('mainClass');
  } else {
    request.code = String(form.get('code') ?? '');
    request.kind = source;
  }
  if (text('name')) request.name = text('name');
  if (text('pool')) request.pool = text('pool');
  for (const name of ['priority', 'timeoutMinutes'] as const) {
    const n = numberOf(form.get(name));
    if (n !== undefined) request[name] = n;
  }
  if (text('executionMode')) request.executionMode = text('executionMode');
  const retryPolicy: Record<string, unknown> = {};
  for (const name of ['maxRetries', 'backoffMultiplier', 'initialDelaySeconds', 'maxDelaySeconds']) {
    const n = numberOf(form.get(`retryPolicy.${name}`));
    if (n !== undefined) retryPolicy[name] = n;
  }
  if (Object.keys(retryPolicy).length > 0) request.retryPolicy = retryPolicy;
  if (form.get('retryOnTimeout') === 'on') request.retryOnTimeout = true;
  const sparkConf = pairs(String(form.get('sparkConf') ?? ''));
  if (sparkConf) request.sparkConf = sparkConf;
  const tags = pairs(String(form.get('tags') ?? ''));
  if (tags) request.tags = tags;
  if (text('notifications.webhook')) {
    request.notifications = {
      webhook: text('notifications.webhook'),
      events: form.getAll('notifications.events').map(String),
    };
  }
  return request as unknown as JobRequestInput;
}

export function SubmitPage({ client }: { client: LibraClient }) {
  const [source, setSource] = useState<Source>('sql');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const [lastKey, setLastKey] = useState<string | undefined>(undefined);
  const [pools] = usePolled(
    (signal) => client.pools({ signal }),
    [client],
    0,
    () => false,
  );

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    // One key per press of Submit: the client's retries of it reuse it, a new press is a new job.
    const key = `console-${crypto.randomUUID()}`;
    setLastKey(key);
    setBusy(true);
    setFailure(undefined);
    setErrors({});
    try {
      const answer = await client.submit(requestOf(new FormData(form)), { idempotencyKey: key });
      location.hash = `#/jobs/${encodeURIComponent(answer.jobId)}`;
    } catch (error) {
      const problems = error instanceof LibraApiError ? (error.problem?.errors ?? []) : [];
      const byField: Record<string, string[]> = {};
      for (const problem of problems) {
        const field = fieldOf(problem);
        // Beside its own input as is; beside a parent field (a conf key, a tag) with its full name.
        const line =
          field === problem.field ? problem.message : `${problem.field || 'request'}: ${problem.message}`;
        byField[field] = [...(byField[field] ?? []), line];
      }
      setErrors(byField);
      setFailure(
        error instanceof LibraApiError && error.problem
          ? error.problem.title + (error.problem.detail ? `: ${error.problem.detail}` : '')
          : errorText(error),
      );
      // The first field in error takes the focus, so a keyboard user lands where the fix is.
      const first = FIELDS.find((f) => byField[f]);
      if (first) (form.elements.namedItem(first) as HTMLElement | null)?.focus?.();
    } finally {
      setBusy(false);
    }
  };

  const say = (field: string) =>
    errors[field]
      ? html`<span class="field-error" id=${`err-${field}`} role="alert" data-field=${field}>${errors[field].join('; ')}</span>`
      : null;
  const invalid = (field: string) => ({
    'aria-invalid': errors[field] ? 'true' : undefined,
    'aria-describedby': errors[field] ? `err-${field}` : undefined,
  });
  const poolNames = dataOf(pools)?.pools.map((p) => p.name) ?? [];

  return html`<section aria-labelledby="submit-title">
    <h1 id="submit-title">Submit a job</h1>
    <form class="submit" onSubmit=${onSubmit} novalidate>
      <fieldset class="source">
        <legend>What runs</legend>
        ${(['sql', 'python', 's3'] as Source[]).map(
          (s) => html`<label><input type="radio" name="source" value=${s} checked=${source === s}
            onChange=${() => setSource(s)} /> ${s === 'sql' ? 'SQL' : s === 'python' ? 'Python' : 'S3 entry point'}</label>`,
        )}
      </fieldset>
      ${
        source === 's3'
          ? html`
          <label>Entry point <input name="entryPoint" placeholder="s3://bucket/path/job.py" ...${invalid('entryPoint')} />${say('entryPoint')}</label>
          <label>Arguments <small>(one a line)</small><textarea name="entryPointArguments" rows="3" ...${invalid('entryPointArguments')}></textarea>${say('entryPointArguments')}</label>
          <label>Main class <small>(JAR only)</small><input name="mainClass" ...${invalid('mainClass')} />${say('mainClass')}</label>`
          : html`<label>${source === 'sql' ? 'SQL' : 'Python'}
            <textarea name="code" rows="8" class="code" spellcheck=${false} ...${invalid('code')}
              placeholder=${source === 'sql' ? 'SELECT 42 AS answer' : 'print("hello")'}></textarea>${say('code')}${say('kind')}</label>`
      }
      <div class="grid">
        <label>Name <input name="name" ...${invalid('name')} />${say('name')}</label>
        <label>Pool <select name="pool" ...${invalid('pool')}>
          <option value="">default</option>
          ${poolNames.filter((p) => p !== 'default').map((p) => html`<option value=${p}>${p}</option>`)}
        </select>${say('pool')}</label>
        <label>Priority <small>(1–10, default 5)</small><input name="priority" type="number" ...${invalid('priority')} />${say('priority')}</label>
        <label>Backend <select name="executionMode" ...${invalid('executionMode')}>
          <option value="">auto</option><option value="emr-serverless">EMR Serverless</option><option value="eks">EMR on EKS</option>
        </select>${say('executionMode')}</label>
        <label>Timeout <small>(minutes)</small><input name="timeoutMinutes" type="number" ...${invalid('timeoutMinutes')} />${say('timeoutMinutes')}</label>
      </div>
      <fieldset>
        <legend>Retries</legend>
        <div class="grid">
          <label>Max retries <small>(default 3)</small><input name="retryPolicy.maxRetries" type="number" ...${invalid('retryPolicy.maxRetries')} />${say('retryPolicy.maxRetries')}</label>
          <label>Backoff multiplier <small>(default 2)</small><input name="retryPolicy.backoffMultiplier" type="number" step="any" ...${invalid('retryPolicy.backoffMultiplier')} />${say('retryPolicy.backoffMultiplier')}</label>
          <label>First delay <small>(s, default 1)</small><input name="retryPolicy.initialDelaySeconds" type="number" ...${invalid('retryPolicy.initialDelaySeconds')} />${say('retryPolicy.initialDelaySeconds')}</label>
          <label>Longest delay <small>(s, default 60)</small><input name="retryPolicy.maxDelaySeconds" type="number" ...${invalid('retryPolicy.maxDelaySeconds')} />${say('retryPolicy.maxDelaySeconds')}</label>
        </div>
        <label class="check"><input type="checkbox" name="retryOnTimeout" /> Retry after a timeout too</label>${say('retryOnTimeout')}
        ${say('retryPolicy')}
      </fieldset>
      <div class="grid">
        <label>Spark conf <small>(key=value, one a line)</small><textarea name="sparkConf" rows="3" spellcheck=${false} ...${invalid('sparkConf')}></textarea>${say('sparkConf')}</label>
        <label>Tags <small>(key=value, one a line)</small><textarea name="tags" rows="3" ...${invalid('tags')}></textarea>${say('tags')}</label>
      </div>
      <fieldset>
        <legend>Notifications</legend>
        <label>Webhook URL <input name="notifications.webhook" type="url" ...${invalid('notifications.webhook')} />${say('notifications.webhook')}</label>
        <div class="events">${STORED_STATUSES.map(
          (e) =>
            html`<label class="check"><input type="checkbox" name="notifications.events" value=${e} checked=${FINAL_STATUSES.includes(e)} /> ${e}</label>`,
        )}</div>${say('notifications.events')}${say('notifications')}
      </fieldset>
      ${errors[''] ? html`<p class="field-error" role="alert">${errors[''].join('; ')}</p>` : null}
      ${failure ? html`<p class="error" role="alert">${failure}</p>` : null}
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Submitting…' : 'Submit'}</button>
        ${lastKey ? html`<small>Idempotency-Key <code>${lastKey}</code></small>` : null}
      </div>
    </form>
  </section>`;
}
