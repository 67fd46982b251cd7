import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';

/**
 * The EventBridge rules of serverless.yml, applied locally to what the emulator sends. Rules are
 * regional and the stack has them only in its home region: events of another region (a copy's
 * AMI State Change in a distribution region) never reach the function, which follows that work
 * with its timers and the sweep instead.
 */
export function matchesReconcileRules(
  event: {
    source?: string;
    'detail-type'?: string;
    region?: string;
    detail?: { state?: string };
  },
  homeRegion: string,
): boolean {
  if (event.region !== homeRegion) return false;
  if (event.source === 'aws.ec2' && event['detail-type'] === 'EC2 Instance State-change Notification') {
    return ['running', 'stopped', 'terminated'].includes(event.detail?.state ?? '');
  }
  if (event.source === 'aws.ec2' && event['detail-type'] === 'EC2 AMI State Change') return true;
  if (event.source === 'aws.autoscaling')
    return (event['detail-type'] ?? '').startsWith('EC2 Auto Scaling Instance Refresh');
  return event.source === 'aws.ssm' && event['detail-type'] === 'EC2 Command Status-change Notification';
}

export interface LocalTriggerOptions {
  /** Calls the function as Lambda would (the real handler). */
  readonly invoke: (event: unknown) => Promise<unknown>;
  readonly sqs: SQSClient;
  readonly timerQueueUrl: string;
  /** Deliver EC2/SSM events (the emulator POSTs them here); off = timers and sweep only. */
  readonly events: boolean;
  /** Consume the timer queue; off = the sweep alone. */
  readonly timers: boolean;
  readonly sweepSeconds: number;
  /** The stack's region: the only one whose events its rules receive. */
  readonly region: string;
}

export interface LocalTriggers {
  /** Where the emulator should POST events (when events are on). */
  readonly eventsUrl: string | undefined;
  readonly counts: { events: number; timers: number; sweeps: number };
  stop(): Promise<void>;
}

/**
 * Runs the reconcile function's three triggers on this machine: an HTTP endpoint for the
 * emulator's events (filtered by the same rules as the stack), a consumer of the SQS timer
 * queue (with batch item failures), and the sweep on an interval.
 */
export async function startLocalTriggers(options: LocalTriggerOptions): Promise<LocalTriggers> {
  const counts = { events: 0, timers: 0, sweeps: 0 };
  const state = { running: true };
  const pending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    const settled = work.catch((error: unknown) => {
      process.stderr.write(`local trigger failed: ${String(error)}\n`);
    });
    pending.add(settled);
    void settled.finally(() => pending.delete(settled));
  };

  let server: Server | undefined;
  let eventsUrl: string | undefined;
  if (options.events) {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        response.writeHead(204).end();
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Parameters<
          typeof matchesReconcileRules
        >[0];
        if (state.running && matchesReconcileRules(event, options.region)) {
          counts.events += 1;
          track(options.invoke(event));
        }
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    eventsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  }

  const consumer = (async () => {
    while (state.running && options.timers) {
      const received = await options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.timerQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      const messages = received.Messages ?? [];
      if (messages.length === 0) continue;
      counts.timers += messages.length;
      const event = {
        Records: messages.map((m) => ({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body,
          eventSource: 'aws:sqs',
        })),
      };
      const response = (await options.invoke(event).catch(() => ({
        batchItemFailures: messages.map((m) => ({ itemIdentifier: m.MessageId })),
      }))) as SQSBatchResponse | undefined;
      const failed = new Set(response?.batchItemFailures.map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      if (done.length > 0) {
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.timerQueueUrl,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      const retry = messages.filter((m) => failed.has(m.MessageId ?? ''));
      if (retry.length > 0) {
        // Locally, a failed timer comes back in 2 s rather than after the 6-minute visibility timeout.
        await options.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.timerQueueUrl,
            Entries: retry.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: 2,
            })),
          }),
        );
      }
    }
  })();

  const sweep = setInterval(() => {
    counts.sweeps += 1;
    track(
      options.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [], detail: {} }),
    );
  }, options.sweepSeconds * 1000);

  return {
    eventsUrl,
    counts,
    async stop() {
      state.running = false;
      clearInterval(sweep);
      await consumer.catch(() => undefined);
      await Promise.all(pending);
      await new Promise<void>((resolve) => {
        if (server)
          server.close(() => {
            resolve();
          });
        else resolve();
      });
    },
  };
}
