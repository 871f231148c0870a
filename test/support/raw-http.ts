import { connect, type Socket } from 'node:net';

/** What came back on a raw connection: the final status (after any 100 Continue), and the bytes. */
export interface RawReply {
  /** Undefined when the server answered nothing before the connection ended or the wait ran out. */
  readonly status: number | undefined;
  readonly text: string;
  /** The server ended the connection (FIN or reset) before the client gave up waiting. */
  readonly closedByServer: boolean;
}

export interface RawExchange {
  /** Writes the request (or part of it); may wait, write more, or end the socket itself. */
  send(socket: Socket, reply: () => RawReply): Promise<void>;
  /** How long to wait for an answer once `send` is done; then the client closes. */
  readonly waitMs: number;
}

const STATUS_LINE = /(?:^|\r\n)HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g;

/** The first answer past any interim 1xx (100 Continue), and whether all of it has arrived. */
function finalAnswer(text: string): { status: number; complete: boolean } | undefined {
  for (const match of text.matchAll(STATUS_LINE)) {
    const status = Number(match[1]);
    if (status < 200) continue;
    const headEnd = text.indexOf('\r\n\r\n', match.index);
    if (headEnd < 0) return { status, complete: false };
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(match.index, headEnd + 2))?.[1];
    return { status, complete: length !== undefined && text.length - (headEnd + 4) >= Number(length) };
  }
  return undefined;
}

/** One connection speaking raw bytes, as a careless or hostile client would. */
export function rawExchange(port: number, exchange: RawExchange): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let done = false;
    const reply = (): RawReply => {
      const text = Buffer.concat(chunks).toString('latin1');
      return { status: finalAnswer(text)?.status, text, closedByServer };
    };
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(reply());
    };
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A whole answer to a whole request: no need to wait on.
      if (sent && finalAnswer(Buffer.concat(chunks).toString('latin1'))?.complete) finish();
    });
    // A reset after the server answered (it closed with our bytes unread) is the same as a close.
    socket.on('error', () => {
      closedByServer = true;
      finish();
    });
    socket.on('end', () => {
      closedByServer = true;
      finish();
    });
    socket.on('connect', () => {
      exchange.send(socket, reply).then(
        () => {
          sent = true;
          if (finalAnswer(reply().text)?.complete) finish();
          else setTimeout(finish, exchange.waitMs);
        },
        () => finish(),
      );
    });
  });
}

/** Writes and resolves once the bytes are handed to the kernel (or the socket is gone). */
export function write(socket: Socket, bytes: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.write(bytes, () => resolve());
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a whole request and waits for the answer. */
export function rawRequest(port: number, bytes: Buffer | string, waitMs = 2_000): Promise<RawReply> {
  return rawExchange(port, {
    waitMs,
    async send(socket) {
      await write(socket, bytes);
    },
  });
}
