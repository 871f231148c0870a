import { admissionFromEnvironment } from '#adapters/compose.ts';
import { createTickHandler } from '#handlers/tick.ts';

export const handler = createTickHandler(admissionFromEnvironment());
