import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RUNTIME_PROVIDED_MODULES } from '../lib/libra-function.ts';
import { LibraStack } from '../lib/libra-stack.ts';
import {
  deployedFunction,
  lambdaRuntimeEnvironment,
  provideRuntimeModules,
} from '../test/support/lambda-bundle.ts';
import { machineLine, writeBenchmarkSection } from './support.ts';

/**
 * npm run bench:bundle — the size and module-init time of every Lambda bundle (issue 5:
 * ≤ 300 KB minified and ≤ 150 ms each).
 *
 * The bundles are the stack's own: LibraStack is synthesized with cdk.json's context, as
 * `cdk synth` does, so each function is bundled by libraFunction's NodejsFunction options
 * (lib/libra-function.ts) with the CDK's esbuild run, and nothing here restates them. A
 * bundle's entry is read from its source map. Each bundle is then imported by fresh `node`
 * processes with the environment the stack gives the function (deploy-time values stood in
 * for, as test/infra/bundles.test.ts does) and the modules the runtime provides.
 */

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const TARGET_KB = 300;
const TARGET_MS = 150;
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY_DIR = 'lambdas/entry/';

/** Runs in the child: imports the bundle and prints how long the import took, in ms. */
const IMPORT_BUNDLE = [
  'const t0 = performance.now();',
  'const module = await import(process.argv[1]);',
  'const ms = performance.now() - t0;',
  "if (typeof module.handler !== 'function') throw new Error('no handler');",
  'console.log(ms);',
].join(' ');

interface Bundle {
  /** lambdas/entry/x.ts, or the entry outside it (the secret writer's custom resource). */
  readonly entry: string;
  readonly constructs: string[];
  readonly file: string;
  readonly bytes: number;
  readonly environment: Record<string, string>;
  /**
   * Packages the bundle imports instead of holding, which the runtime must provide: statically,
   * so loaded at init, and only by a dynamic `import()`, so loaded on first use (sdk.ts).
   */
  readonly imports: { readonly atInit: string[]; readonly onFirstUse: string[] };
  /** Bytes of the bundle by where they came from, from its source map, largest first. */
  readonly composition: [string, number][];
}

interface Timing {
  readonly importMs: number[];
  readonly wallMs: number[];
  readonly sdkMs: number[];
}

/**
 * Runs in the child, in the bundle's directory (where --eval resolves from): imports only the
 * packages the bundle imports at init (argv[1], comma-separated), finding them as the bundle does,
 * and prints how long that took. One the bundle only tries in a try/catch and cannot find is skipped.
 */
const IMPORT_SDK = [
  'const t0 = performance.now();',
  "for (const name of process.argv[1].split(',').filter(Boolean)) {",
  "  await import(name).catch((error) => { if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error; });",
  '}',
  'console.log(performance.now() - t0);',
].join(' ');

function synthesize(outdir: string): Bundle[] {
  const context = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
  const app = new App({ outdir, context });
  const stack = new LibraStack(app, 'Libra', { config: context.libra });
  const assembly = app.synth();
  const byFile = new Map<string, Bundle>();
  for (const fn of stack.node.findAll().filter((child) => child instanceof NodejsFunction)) {
    const deployed = deployedFunction(assembly, stack, fn);
    const seen = byFile.get(deployed.file);
    if (seen) {
      seen.constructs.push(fn.node.path);
      continue;
    }
    const text = readFileSync(deployed.file, 'utf8');
    byFile.set(deployed.file, {
      entry: deployed.entry,
      constructs: [fn.node.path],
      file: deployed.file,
      bytes: statSync(deployed.file).size,
      environment: deployed.environment,
      imports: externalImports(text),
      composition: composition(text, deployed.sources, deployed.mappings),
    });
  }
  return [...byFile.values()].sort((a, b) => a.entry.localeCompare(b.entry));
}

/**
 * Bare specifiers the bundle imports or requires, Node built-ins left out: at init, those it
 * imports statically or requires (bundled CommonJS calls require() for what esbuild left out);
 * on first use, those it only imports by a dynamic `import()`.
 */
function externalImports(code: string): Bundle['imports'] {
  const atInit = new Set<string>();
  const dynamic = new Set<string>();
  for (const match of code.matchAll(/(\bfrom|\bimport|\brequire)\s*(\(?)\s*["']([^"'./][^"']*)["']/g)) {
    const specifier = match[3] ?? '';
    if (isBuiltin(specifier)) continue;
    if (match[1] === 'import' && match[2] === '(') dynamic.add(specifier);
    else atInit.add(specifier);
  }
  return {
    atInit: [...atInit].sort(),
    onFirstUse: [...dynamic].filter((specifier) => !atInit.has(specifier)).sort(),
  };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Attributes each generated column range to the package of its source (or to "our code"), by
 * decoding the source map's mappings. Columns count UTF-16 units and the bundle is ASCII but
 * for a few strings, so this is bytes to within a fraction of a percent; unmapped ranges (the
 * banner, esbuild's runtime helpers) are "unmapped".
 */
function composition(code: string, sources: string[], mappings: string): [string, number][] {
  const totals = new Map<string, number>();
  const add = (owner: string, units: number) => totals.set(owner, (totals.get(owner) ?? 0) + units);
  const lines = code.split('\n');
  let source = 0;
  mappings.split(';').forEach((line, lineIndex) => {
    const length = (lines[lineIndex]?.length ?? 0) + 1;
    let column = 0;
    let previous: { column: number; owner: string } = { column: 0, owner: 'unmapped' };
    for (const segment of line.split(',')) {
      if (segment === '') continue;
      const fields = decodeVlq(segment);
      column += fields[0] ?? 0;
      add(previous.owner, column - previous.column);
      if (fields.length >= 4) source += fields[1] ?? 0;
      const owner = fields.length >= 4 ? packageOf(sources[source] ?? '') : 'unmapped';
      previous = { column, owner };
    }
    add(previous.owner, length - previous.column);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function packageOf(source: string): string {
  const at = source.lastIndexOf('node_modules/');
  if (at < 0) return 'our code';
  const [first = '', second = ''] = source.slice(at + 'node_modules/'.length).split('/');
  return first.startsWith('@') ? `${first}/${second}` : first;
}

function runNode(
  args: string[],
  environment: Record<string, string>,
  cwd?: string,
): { ms: number; stdout: string } {
  const started = performance.now();
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    cwd,
    // As test/infra/bundles.test.ts: the stack's variables, the region Lambda sets, nothing else.
    env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', ...environment },
  });
  const ms = performance.now() - started;
  if (child.status !== 0 || child.stderr !== '') {
    throw new Error(`node ${args.join(' ')} failed (${child.status}):\n${child.stderr}`);
  }
  return { ms, stdout: child.stdout };
}

function importOnce(bundle: Bundle): { importMs: number; wallMs: number } {
  const { ms, stdout } = runNode(['--input-type=module', '--eval', IMPORT_BUNDLE, bundle.file], {
    ...lambdaRuntimeEnvironment(dirname(bundle.file)),
    ...bundle.environment,
  });
  return { importMs: Number(stdout.trim()), wallMs: ms };
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const kb = (bytes: number) => bytes / 1024;
const fixed = (value: number) => value.toFixed(1);

async function main(): Promise<void> {
  const load = os.loadavg()[0] ?? Number.NaN;
  const outdir = mkdtempSync(join(os.tmpdir(), 'libra-bench-bundle-'));
  try {
    const synthStarted = performance.now();
    const bundles = synthesize(outdir);
    const synthSeconds = (performance.now() - synthStarted) / 1000;
    const entries = readdirSync(join(PROJECT_ROOT, ENTRY_DIR)).filter((name) => name.endsWith('.ts'));
    const missing = entries.filter((name) => !bundles.some((bundle) => bundle.entry === ENTRY_DIR + name));
    if (missing.length > 0) throw new Error(`no function of the stack bundles ${missing.join(', ')}`);
    provideRuntimeModules(outdir);

    // A node process that imports nothing: what every wall-clock figure below starts from.
    const empty: number[] = [];
    const timings = new Map<Bundle, Timing>(
      bundles.map((bundle) => [bundle, { importMs: [], wallMs: [], sdkMs: [] }]),
    );
    for (const bundle of bundles) importOnce(bundle); // warm-up: the file system cache, not measured
    for (let run = 0; run < RUNS; run++) {
      empty.push(runNode(['--input-type=module', '--eval', ''], {}).ms);
      // Round robin, so that a burst of load on the shared machine spreads over every handler.
      for (const bundle of bundles) {
        const timing = timings.get(bundle) as Timing;
        const { importMs, wallMs } = importOnce(bundle);
        timing.importMs.push(importMs);
        timing.wallMs.push(wallMs);
        const sdk = runNode(
          ['--input-type=module', '--eval', IMPORT_SDK, bundle.imports.atInit.join(',')],
          bundle.environment,
          dirname(bundle.file),
        );
        timing.sdkMs.push(Number(sdk.stdout.trim()));
      }
    }

    const rows = bundles.map((bundle) => {
      const timing = timings.get(bundle) as Timing;
      return {
        bundle,
        sizeKb: kb(bundle.bytes),
        importMs: median(timing.importMs),
        importMax: Math.max(...timing.importMs),
        wallMs: median(timing.wallMs),
        sdkMs: median(timing.sdkMs),
      };
    });
    const tooLarge = rows.filter((row) => row.sizeKb > TARGET_KB);
    const tooSlow = rows.filter((row) => row.importMs > TARGET_MS);
    const largest = rows.reduce((a, b) => (b.sizeKb > a.sizeKb ? b : a));
    const slowest = rows.reduce((a, b) => (b.importMs > a.importMs ? b : a));
    const nameOf = (bundle: Bundle) =>
      bundle.entry.startsWith(ENTRY_DIR)
        ? basename(bundle.entry, '.ts')
        : `${bundle.entry} (custom resource)`;
    const verdict = (failing: typeof rows, what: string, worst: string) =>
      failing.length === 0
        ? `met (${worst})`
        : `**NOT met** by ${failing.map((row) => nameOf(row.bundle)).join(', ')} (${what})`;

    const table = rows.map((row) => {
      const top = row.bundle.composition
        .slice(0, 3)
        .map(([owner, units]) => `${owner} ${fixed(kb(units))}`)
        .join(', ');
      const names = (packages: string[]) =>
        packages.map((name) => name.replace(/^@aws-sdk\/(client-)?/, '')).join(', ') || '—';
      return `| ${nameOf(row.bundle)} | ${fixed(row.sizeKb)} | ${fixed(row.importMs)} | ${fixed(row.importMax)} | ${fixed(row.sdkMs)} | ${fixed(row.wallMs)} | ${top} | ${names(row.bundle.imports.atInit)} | ${names(row.bundle.imports.onFirstUse)} |`;
    });

    const markdown = `
## Lambda bundles (\`npm run bench:bundle\`)

Machine: ${machineLine()}; 1-minute load average ${load.toFixed(2)} at start; run ${new Date().toISOString()}.

**Method.** LibraStack is synthesized with cdk.json's context, as \`cdk synth\` does (${fixed(synthSeconds)} s),
so every function is bundled by the one factory, \`libraFunction\` in \`lib/libra-function.ts\` (NodejsFunction,
esbuild on this machine, CommonJS, minified, source map beside): these are the files the stack deploys, one row per
bundle, its entry read from its source map. **Size** is \`index.js\` in KB of 1024 bytes; its largest parts come
from decoding the source map. Each bundle is then imported by a fresh \`node\` process (${process.version}),
${RUNS} times per bundle after one warm-up, round robin over the bundles, with the environment the stack gives
that function (deploy-time references stood in for, as \`test/infra/bundles.test.ts\` does;
\`NODE_OPTIONS=--enable-source-maps\` included) and the variables the Lambda runtime sets that tell the
Powertools Tracer and the X-Ray SDK they run in Lambda (\`AWS_EXECUTION_ENV\`, \`LAMBDA_TASK_ROOT\`, …:
\`lambdaRuntimeEnvironment\`), so the Tracer is on and patches what it traces at init, as deployed. **Init** is measured inside the child:
\`performance.now()\` around \`await import(bundle)\`, which loads and evaluates the bundle and all it imports,
the AWS SDK included, and runs its module scope (configuration parsed, clients made). **Wall** is the whole
child process, measured by the parent: Node's own start and exit included (a \`node\` that imports nothing
takes ${fixed(median(empty))} ms here). Both are medians; the init target applies to init.

**The AWS SDK is external.** ${RUNTIME_PROVIDED_MODULES.map((pattern) => `\`${pattern}\``).join(' and ')} are left
out of the bundles (\`RUNTIME_PROVIDED_MODULES\`): the \`nodejs24.x\` runtime ships the AWS SDK v3 and each bundle
imports the packages of the last two columns by name. The child resolves them as the runtime resolves its own copy:
from a \`node_modules\` beside the bundles that links those scopes of this project's \`node_modules\` and nothing
else (\`provideRuntimeModules\`, \`test/support/lambda-bundle.ts\`), so a bundle missing anything else fails here
as in Lambda. The init figures thus include loading the SDK, from this project's SDK version, not the runtime's.
**AWS SDK alone** is that share: a fresh process, in the bundle's directory, importing only the packages
loaded at init (median). esbuild cannot drop a static import of an external package, since it cannot see
whether the package has side effects, so a bundle loads at init every SDK client that any module it holds
imports statically, whether or not its handler ever calls it. Hence \`lambdas/adapters/sdk.ts\`: the adapters
import only the SDK's types, and each entry imports statically (**at init**) the clients its function uses
on every invocation or nearly, and gives it the clients it calls on some invocations only through a memoized
dynamic \`import()\` (**on first use**, not in the init figures: that invocation pays for it once per
container); a client it never calls is not given to it, and never loaded.
The CPU here is not a Lambda's: a function gets a share of a vCPU in proportion to its
memory (a full one at 1,769 MB), so a 512 MB function initializes slower than these figures.

| handler | size KB | init ms (median) | init ms (max) | AWS SDK alone ms | wall ms (median) | largest parts, KB | AWS SDK at init | AWS SDK on first use |
|---|---:|---:|---:|---:|---:|---|---|---|
${table.join('\n')}

Targets, each bundle: size ≤ ${TARGET_KB} KB — ${verdict(tooLarge, `over ${TARGET_KB} KB`, `largest ${nameOf(largest.bundle)}, ${fixed(largest.sizeKb)} KB`)};
init ≤ ${TARGET_MS} ms — ${verdict(tooSlow, `median init over ${TARGET_MS} ms`, `slowest ${nameOf(slowest.bundle)}, ${fixed(slowest.importMs)} ms`)}.
`;
    await writeBenchmarkSection('bundle', markdown);
    console.log(markdown);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

await main();
