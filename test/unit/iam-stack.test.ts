import { describe, expect, it } from 'vitest';
import { withoutAction, withoutStatement } from '../../emulator/iam/identities';
import { resolveIntrinsics, UnresolvedReference } from '../../emulator/iam/stack';

// The packaged template's policies, resolved for the local stack as CloudFormation would.
const resources = {
  BakesTable: { Ref: 'bakes', Arn: 'arn:aws:dynamodb:us-east-1:111122223333:table/bakes' },
  NotificationsTopic: { Ref: 'arn:aws:sns:us-east-1:111122223333:notes' },
};
const pseudo = { accountId: '111122223333', region: 'us-east-1' };

describe('resolveIntrinsics', () => {
  it.each([
    [{ Ref: 'BakesTable' }, 'bakes'],
    [{ Ref: 'AWS::AccountId' }, '111122223333'],
    [{ 'Fn::GetAtt': ['BakesTable', 'Arn'] }, 'arn:aws:dynamodb:us-east-1:111122223333:table/bakes'],
    [{ 'Fn::GetAtt': 'BakesTable.Arn' }, 'arn:aws:dynamodb:us-east-1:111122223333:table/bakes'],
    [
      { 'Fn::Sub': '${BakesTable.Arn}/index/active' },
      'arn:aws:dynamodb:us-east-1:111122223333:table/bakes/index/active',
    ],
    [{ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' }, 'arn:aws:ec2:us-east-1::image/*'],
    [{ 'Fn::Sub': ['${Name}-x', { Name: { Ref: 'BakesTable' } }] }, 'bakes-x'],
    [{ 'Fn::Sub': 'literal ${!Keep}' }, 'literal ${Keep}'],
    [{ 'Fn::Join': [':', ['a', { Ref: 'AWS::Region' }]] }, 'a:us-east-1'],
    [{ 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] }, 'b'],
  ])('resolves %j', (value, expected) => {
    expect(resolveIntrinsics(value, resources, pseudo)).toEqual(expected);
  });

  it('resolves inside documents and leaves plain values alone', () => {
    const policy = {
      Statement: [{ Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'NotificationsTopic' } }],
    };

    expect(resolveIntrinsics(policy, resources, pseudo)).toEqual({
      Statement: [
        { Effect: 'Allow', Action: ['sns:Publish'], Resource: 'arn:aws:sns:us-east-1:111122223333:notes' },
      ],
    });
  });

  it.each([
    [{ Ref: 'TimerQueue' }, /Ref TimerQueue/],
    [{ 'Fn::GetAtt': ['BakesTable', 'StreamArn'] }, /BakesTable.StreamArn/],
    [{ 'Fn::Sub': '${Missing.Arn}' }, /Missing.Arn/],
    [{ 'Fn::ImportValue': 'x' }, /Fn::ImportValue/],
  ])('refuses what the local stack does not provide: %j', (value, message) => {
    expect(() => resolveIntrinsics(value, resources, pseudo)).toThrow(UnresolvedReference);
    expect(() => resolveIntrinsics(value, resources, pseudo)).toThrow(message);
  });
});

describe('policy edits for tests', () => {
  const policies = [
    {
      name: 'p',
      policy: {
        Statement: [
          { Sid: 'A', Effect: 'Allow', Action: ['ec2:CreateImage', 'ec2:CopyImage'], Resource: '*' },
          { Sid: 'B', Effect: 'Allow', Action: 'ec2:CreateImage', Resource: '*' },
        ],
      },
    },
  ];

  it('withoutAction drops the action everywhere, and a statement left with none', () => {
    expect(withoutAction(policies, 'ec2:CreateImage')[0]?.policy.Statement).toEqual([
      { Sid: 'A', Effect: 'Allow', Action: ['ec2:CopyImage'], Resource: '*' },
    ]);
    expect(() => withoutAction(policies, 'ec2:RunInstances')).toThrow(/no statement grants/);
  });

  it('withoutStatement drops one statement by Sid', () => {
    expect(withoutStatement(policies, 'A')[0]?.policy.Statement.map((s) => s.Sid)).toEqual(['B']);
    expect(() => withoutStatement(policies, 'C')).toThrow(/no statement C/);
  });
});
