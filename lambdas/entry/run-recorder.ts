import { runRecorderFromEnvironment } from '#adapters/aws-entries.ts';
import { createRunRecorderHandler } from '#handlers/run-recorder.ts';

export const handler = createRunRecorderHandler(runRecorderFromEnvironment());
