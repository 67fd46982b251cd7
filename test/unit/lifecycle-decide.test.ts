import { describe, expect, it } from 'vitest';
import {
  heartbeatDue,
  lifecycleReads,
  lifecycleVerdict,
  MAX_GLOBAL_TIMEOUT_SECONDS,
  type LifecycleSeen,
  type LifecycleVerdict,
} from '../../lib/lifecycle/decide';
import type { LifecycleRecord } from '../../lib/lifecycle/store';
import type { LifecycleConfig } from '../../lib/pipeline/schema';

const T0 = '2026-11-30T00:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);

function record(
  transition: LifecycleRecord['transition'],
  patch: Partial<LifecycleRecord> = {},
): LifecycleRecord {
  return {
    transition,
    hook: 'ready',
    token: 't',
    group: 'web-fleet',
    instanceId: 'i-1',
    status: 'checking',
    version: 1,
    receivedAt: T0,
    updatedAt: T0,
    lastHeartbeatAt: T0,
    heartbeats: 0,
    ...patch,
  };
}

const command: LifecycleConfig = {
  readiness: { command: ['curl -fsS localhost/health'], timeoutSeconds: 600 },
  drain: { command: ['systemctl stop app'], timeoutSeconds: 300 },
};
const statusChecks: LifecycleConfig = { readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } };
const launching = record('launching');
const terminating = record('terminating');
const sent = (transition: LifecycleRecord['transition']) => record(transition, { commandId: 'c-1' });
const seen = (seconds: number, patch: Partial<LifecycleSeen> = {}): LifecycleSeen => ({
  now: at(seconds),
  ...patch,
});

describe('lifecycleReads: what a look reads from AWS', () => {
  it.each<[string, LifecycleRecord, LifecycleConfig, number, string]>([
    ['no check configured', launching, {}, 10, 'nothing'],
    ['no drain configured', terminating, statusChecks, 10, 'nothing'],
    ['out of time', launching, command, 601, 'nothing'],
    ['status checks', launching, statusChecks, 10, 'status-checks'],
    ['a command not sent yet: the agent', launching, command, 10, 'agent'],
    ['a command sent: its invocation', sent('terminating'), command, 10, 'invocation'],
    ['at the timeout itself, still looking', launching, command, 600, 'agent'],
  ])('%s', (_, r, config, seconds, reads) => {
    expect(lifecycleReads(r, config, at(seconds))).toBe(reads);
  });
});

const ready = { kind: 'complete', result: 'CONTINUE', outcome: 'ready' } as const;
const drained = { kind: 'complete', result: 'CONTINUE', outcome: 'drained' } as const;
const wait = { kind: 'wait' } as const;

describe('lifecycleVerdict: CONTINUE, ABANDON or wait', () => {
  it.each<[string, LifecycleRecord, LifecycleConfig, LifecycleSeen, LifecycleVerdict]>([
    [
      'no readiness check: CONTINUE at once',
      launching,
      {},
      seen(0),
      { kind: 'complete', result: 'CONTINUE', outcome: 'no-check' },
    ],
    [
      'no drain: CONTINUE at once',
      terminating,
      {},
      seen(0),
      { kind: 'complete', result: 'CONTINUE', outcome: 'no-check' },
    ],
    [
      'a readiness check that outlives its timeout: ABANDON, never CONTINUE',
      sent('launching'),
      command,
      seen(601, { invocation: { status: 'InProgress' } }),
      { kind: 'complete', result: 'ABANDON', outcome: 'timed-out', reason: 'No answer within 600 s' },
    ],
    [
      'a drain that outlives its timeout: CONTINUE (the instance must still go)',
      sent('terminating'),
      command,
      seen(301),
      { kind: 'complete', result: 'CONTINUE', outcome: 'drain-failed', reason: 'No answer within 300 s' },
    ],
    [
      'status checks both ok: ready',
      launching,
      statusChecks,
      seen(10, { statusChecks: ['ok', 'ok'] }),
      ready,
    ],
    [
      'status checks initializing: wait',
      launching,
      statusChecks,
      seen(10, { statusChecks: ['initializing', 'ok'] }),
      wait,
    ],
    [
      'one status check unknown: wait',
      launching,
      statusChecks,
      seen(10, { statusChecks: [undefined, 'ok'] }),
      wait,
    ],
    ['status checks not seen: wait', launching, statusChecks, seen(10), wait],
    [
      'a status check impaired: ABANDON',
      launching,
      statusChecks,
      seen(10, { statusChecks: ['ok', 'impaired'] }),
      { kind: 'complete', result: 'ABANDON', outcome: 'not-ready', reason: 'EC2 status checks impaired' },
    ],
    ['agent not online: wait, send nothing', launching, command, seen(10, { agentOnline: false }), wait],
    [
      'agent online: send the readiness command, with its timeout',
      launching,
      command,
      seen(10, { agentOnline: true }),
      { kind: 'wait', send: { commands: ['curl -fsS localhost/health'], timeoutSeconds: 600 } },
    ],
    [
      'agent online: send the drain command',
      terminating,
      command,
      seen(10, { agentOnline: true }),
      { kind: 'wait', send: { commands: ['systemctl stop app'], timeoutSeconds: 300 } },
    ],
    ['the invocation not visible yet: wait', sent('launching'), command, seen(10), wait],
    [
      'the command running: wait',
      sent('launching'),
      command,
      seen(10, { invocation: { status: 'InProgress' } }),
      wait,
    ],
    [
      'readiness passed: CONTINUE',
      sent('launching'),
      command,
      seen(10, { invocation: { status: 'Success', exitCode: 0 } }),
      ready,
    ],
    [
      'drain done: CONTINUE',
      sent('terminating'),
      command,
      seen(10, { invocation: { status: 'Success' } }),
      drained,
    ],
    [
      'readiness failed: ABANDON, with the error output',
      sent('launching'),
      command,
      seen(10, { invocation: { status: 'Failed', exitCode: 7, stdout: 'out', stderr: 'refused' } }),
      {
        kind: 'complete',
        result: 'ABANDON',
        outcome: 'not-ready',
        reason: 'Command Failed (exit 7): refused',
      },
    ],
    [
      'a drain that failed: CONTINUE, recorded as drain-failed, with the output',
      sent('terminating'),
      command,
      seen(10, { invocation: { status: 'TimedOut', stdout: 'x'.repeat(2000) } }),
      {
        kind: 'complete',
        result: 'CONTINUE',
        outcome: 'drain-failed',
        reason: `Command TimedOut (exit ?): ${'x'.repeat(1024)}`,
      },
    ],
    [
      'a cancelled command, no output',
      sent('launching'),
      command,
      seen(10, { invocation: { status: 'Cancelled', stdout: '', stderr: '' } }),
      { kind: 'complete', result: 'ABANDON', outcome: 'not-ready', reason: 'Command Cancelled (exit ?)' },
    ],
  ])('%s', (_, r, config, s, verdict) => {
    expect(lifecycleVerdict(r, config, s)).toEqual(verdict);
  });
});

describe('heartbeatDue: half the heartbeat timeout, never past the global timeout', () => {
  it.each<[string, Partial<LifecycleRecord>, number, number, boolean]>([
    ['just received', {}, 0, 60, false],
    ['before half the timeout', {}, 29, 60, false],
    ['at half the timeout', {}, 30, 60, true],
    ['half a timeout after the last heartbeat', { lastHeartbeatAt: at(100).toISOString() }, 130, 60, true],
    ['soon after the last heartbeat', { lastHeartbeatAt: at(100).toISOString() }, 110, 60, false],
    // Global timeout: 100 heartbeat timeouts (6000 s for 60 s); a heartbeat that would extend
    // past it is not sent.
    ['well inside the global timeout', {}, 5000, 60, true],
    ['one timeout before the global timeout', {}, 5939, 60, true],
    ['within one timeout of the global timeout', {}, 5940, 60, false],
    // 48 h cap: 100 × 3600 s would be 100 h.
    ['inside the 48 h cap', {}, MAX_GLOBAL_TIMEOUT_SECONDS - 3601, 3600, true],
    ['within one timeout of the 48 h cap', {}, MAX_GLOBAL_TIMEOUT_SECONDS - 3600, 3600, false],
  ])('%s', (_, patch, seconds, timeout, due) => {
    expect(heartbeatDue(record('launching', patch), at(seconds), timeout)).toBe(due);
  });
});
