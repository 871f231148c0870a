import { admissionFromEnvironment } from '#adapters/aws-entries.ts';
import { createAdmissionHandler } from '#handlers/admission.ts';

export const handler = createAdmissionHandler(admissionFromEnvironment());
