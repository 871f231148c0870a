import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cfnLint } from '../support/cfn-lint.ts';
import { libraStack, STACK_VARIANTS, testApp } from './app.ts';

/** A warning kept on purpose: its rule, what its message says (a regular expression), and why. */
interface Acknowledgement {
  readonly rule: string;
  readonly message: string;
  readonly reason: string;
}

const ACKNOWLEDGED: Acknowledgement[] = JSON.parse(
  readFileSync(new URL('./cfn-lint-acknowledged.json', import.meta.url), 'utf8'),
);

/** Each configuration's template, synthesized as `cdk synth` writes it. */
const templates = STACK_VARIANTS.map(([name, props]) => {
  const app = testApp();
  const stack = libraStack(props, app);
  return { name, file: app.synth().getStackByName(stack.stackName).templateFullPath };
});
/** A template cfn-lint must refuse, linted in the same run: proof that it reads what it is given. */
const probe = join(mkdtempSync(join(tmpdir(), 'cfn-lint-')), 'probe.json');
writeFileSync(
  probe,
  JSON.stringify({
    Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 'soon' } } },
  }),
);
const all = cfnLint([...templates.map(({ file }) => file), probe]);
const findings = all
  .filter((finding) => finding.file !== probe)
  .map((finding) => ({
    ...finding,
    variant: templates.find(({ file }) => file === finding.file)?.name ?? finding.file,
  }));
const acknowledges = (ack: Acknowledgement, finding: (typeof findings)[number]) =>
  ack.rule === finding.rule && new RegExp(ack.message).test(finding.message);
const line = (finding: (typeof findings)[number]) =>
  `${finding.variant}: ${finding.level} ${finding.rule} ${finding.path}: ${finding.message}`;

describe('cfn-lint on the synthesized templates', () => {
  it('reports errors as errors: a queue whose VisibilityTimeout is not a number is refused', () => {
    expect(all.filter((finding) => finding.file === probe)).toEqual([
      expect.objectContaining({ level: 'Error', path: 'Resources/Queue/Properties/VisibilityTimeout' }),
    ]);
    expect(findings.every(({ variant }) => STACK_VARIANTS.some(([name]) => name === variant))).toBe(true);
  });

  it('finds no error in any of them', () => {
    expect(findings.filter(({ level }) => level !== 'Warning').map(line)).toEqual([]);
  });

  it('finds no warning that is not acknowledged by rule, message and reason', () => {
    const unacknowledged = findings.filter(
      (finding) => finding.level === 'Warning' && !ACKNOWLEDGED.some((ack) => acknowledges(ack, finding)),
    );
    expect(unacknowledged.map(line)).toEqual([]);
  });

  it('keeps no acknowledgement that matches nothing, nor one without its reason', () => {
    for (const ack of ACKNOWLEDGED) {
      expect(ack.reason.length, ack.rule).toBeGreaterThan(40);
      expect(
        findings.some((finding) => acknowledges(ack, finding)),
        `${ack.rule} ${ack.message} acknowledges no finding any more: remove it`,
      ).toBe(true);
    }
  });
});
