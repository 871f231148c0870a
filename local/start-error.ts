/**
 * A reason the local runtime cannot start that the user can act on (a port in use, a data
 * directory another runtime holds): `npm start` prints its message, one line, and exits 1.
 */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/** The one line to print for a listen failure, naming the address and what to do. */
export function listenFailure(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new StartError(
        `port ${port} is in use on ${host}: stop what listens there, or choose another with --port`,
      );
    case 'EACCES':
      return new StartError(`not allowed to listen on ${where}: choose a port above 1023 with --port`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StartError(`cannot listen on ${where}: ${host} is not an address of this machine (--host)`);
    default:
      return error instanceof Error ? error : new Error(String(error));
  }
}
