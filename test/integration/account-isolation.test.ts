import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { awsForTest, testAccountId } from '../support/aws';
import { createSandbox } from '../../emulator/sandbox';

describe('per-test-file emulator accounts', () => {
  it('derives a stable 12-digit id that is never moto default', () => {
    const id = testAccountId('file:///work/test/integration/a.test.ts');

    expect(id).toMatch(/^9\d{11}$/);
    expect(testAccountId('file:///work/test/integration/a.test.ts')).toBe(id);
    expect(testAccountId('file:///work/test/integration/b.test.ts')).not.toBe(id);
  });

  it("keeps one account's resources out of another's", async () => {
    const first = awsForTest(`${import.meta.url}#first`);
    const second = awsForTest(`${import.meta.url}#second`);

    const sandbox = await createSandbox(first, { name: 'isolated', desiredCapacity: 1 });
    const seenByFirst = await first.ec2.send(new DescribeVpcsCommand({ VpcIds: [sandbox.vpcId] }));
    const seenBySecond = await second.ec2.send(new DescribeVpcsCommand({}));

    expect(seenByFirst.Vpcs).toHaveLength(1);
    expect(seenBySecond.Vpcs?.map((vpc) => vpc.VpcId)).not.toContain(sandbox.vpcId);
  });
});
