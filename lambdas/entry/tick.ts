import { admissionFromEnvironment } from '#adapters/aws-entries.ts';
import { createTickHandler } from '#handlers/tick.ts';

export const handler = createTickHandler(admissionFromEnvironment());
