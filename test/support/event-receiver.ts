import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EmulatedEvent } from '../../emulator/control';

/** A local HTTP endpoint that collects the events the emulator POSTs to it. */
export interface EventReceiver {
  readonly url: string;
  readonly events: EmulatedEvent[];
  close(): Promise<void>;
}

export async function startEventReceiver(): Promise<EventReceiver> {
  const events: EmulatedEvent[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as EmulatedEvent);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
