import { finalizerFromEnvironment } from '#adapters/aws-entries.ts';
import { createFinalizerHandler } from '#handlers/finalizer.ts';

export const handler = createFinalizerHandler(finalizerFromEnvironment());
