import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { accountHeader } from './aws';

/** A CloudWatch alarm in a test's account, in state OK until the test sets it off. */
export async function testAlarm(accountId: string, name: string, region = 'us-east-1') {
  const cloudwatch = new CloudWatchClient({ region });
  cloudwatch.middlewareStack.use(accountHeader(accountId));
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  return {
    /** Puts the alarm in ALARM, as CloudWatch would on errors after a deploy. */
    goOff: () =>
      cloudwatch.send(
        new SetAlarmStateCommand({
          AlarmName: name,
          StateValue: 'ALARM',
          StateReason: 'errors after deploy',
        }),
      ),
  };
}
