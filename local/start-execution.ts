import { AWS_LIMITS } from '#core/aws-limits.generated.ts';
import { StartRefused } from '#core/errors.ts';

/**
 * What Step Functions checks of a StartExecution before it starts anything, for the local
 * runtime's stand-in, so that a start AWS would refuse for good is refused here too, the same
 * way (StartRefused), and the job ends START_FAILED locally as it would in AWS. The limits are
 * those derived from Step Functions' model (AWS_LIMITS, as submit checks them) and its documented
 * name rule; the input is measured in UTF-8 bytes, as AWS does.
 */
export const MAX_EXECUTION_INPUT_BYTES = AWS_LIMITS.stepFunctions.input.max;
export const MAX_EXECUTION_NAME_CHARS = AWS_LIMITS.stepFunctions.name.max;

/** White space, brackets, wildcards, the listed special characters, control characters and U+FFFE/U+FFFF. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it refuses
const FORBIDDEN_IN_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff]/u;

const CALL = 'Step Functions StartExecution';

/** Throws StartRefused as Step Functions answers a start it refuses for good. */
export function checkStartExecution(name: string, input: unknown): void {
  if (name.length < 1 || name.length > MAX_EXECUTION_NAME_CHARS || FORBIDDEN_IN_NAME.test(name)) {
    throw new StartRefused('InvalidName', `${CALL} refused it (InvalidName): Invalid Name: '${name}'`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(input), 'utf8');
  if (bytes > MAX_EXECUTION_INPUT_BYTES) {
    throw new StartRefused(
      'ValidationException',
      `${CALL} refused it (ValidationException): 1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_EXECUTION_INPUT_BYTES} (it is ${bytes} bytes)`,
    );
  }
}
