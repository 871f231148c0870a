import { createNotifierHandler, notifierFromEnvironment } from '#handlers/notifier.ts';

export const handler = createNotifierHandler(notifierFromEnvironment());
