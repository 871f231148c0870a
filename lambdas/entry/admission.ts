import { admissionFromEnvironment } from '#adapters/compose.ts';
import { createAdmissionHandler } from '#handlers/admission.ts';

export const handler = createAdmissionHandler(admissionFromEnvironment());
