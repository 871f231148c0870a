import { spawnSync } from 'node:child_process';

/** cfn-lint (1.51) on synthesized templates: what it finds, as its JSON output gives it. */

export interface CfnLintFinding {
  readonly file: string;
  readonly level: string;
  readonly rule: string;
  readonly message: string;
  /** Where in the template, e.g. `Resources/LibraAdmissionFunction2EB5BFC0/DependsOn/1`. */
  readonly path: string;
}

interface RawFinding {
  readonly Filename: string;
  readonly Level: string;
  readonly Message: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: (string | number)[] | null };
}

const MISSING = 'cfn-lint is not on PATH: install cfn-lint 1.51 (pip install "cfn-lint==1.51.*")';

/** Lints the templates in one cfn-lint process (its start-up, loading the schemas, is most of its time). */
export function cfnLint(files: readonly string[]): CfnLintFinding[] {
  const run = spawnSync('cfn-lint', ['--format', 'json', '--', ...files], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error)
    throw new Error((run.error as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING : run.error.message);
  // cfn-lint exits non-zero when it finds anything (2 errors, 4 warnings, 8 informational, or-ed);
  // only a run that printed no JSON failed.
  let raw: RawFinding[];
  try {
    raw = JSON.parse(run.stdout);
  } catch {
    throw new Error(`cfn-lint exited ${run.status} without a report: ${run.stderr.slice(0, 2_000)}`);
  }
  return raw.map((finding) => ({
    file: finding.Filename,
    level: finding.Level,
    rule: finding.Rule.Id,
    message: finding.Message,
    path: (finding.Location.Path ?? []).join('/'),
  }));
}
