/**
 * When an EventBridge schedule next fires, for the schedules the nightly trigger uses: a cron
 * expression with fixed minutes and hours, every day (`cron(0 3 * * ? *)`, `cron(30 1,13 * * ? *)`),
 * in UTC as EventBridge cron runs
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
 * Anything else (days of the week, steps, rate()) is not worked out: undefined, and the caller
 * shows the expression as it is.
 */
export function nextRun(expression: string, now: Date): Date | undefined {
  const fields = /^cron\((.+)\)$/.exec(expression.trim())?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) return undefined;
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const everyDay =
    (dayOfMonth === '*' || dayOfMonth === '?') &&
    month === '*' &&
    (dayOfWeek === '*' || dayOfWeek === '?') &&
    year === '*';
  const mins = numbers(minutes, 59);
  const hrs = numbers(hours, 23);
  if (!everyDay || !mins || !hrs) return undefined;
  const start = new Date(now.getTime());
  start.setUTCSeconds(0, 0);
  for (let day = 0; day <= 1; day += 1) {
    for (const hour of hrs) {
      for (const minute of mins) {
        const at = Date.UTC(
          start.getUTCFullYear(),
          start.getUTCMonth(),
          start.getUTCDate() + day,
          hour,
          minute,
        );
        if (at > now.getTime()) return new Date(at);
      }
    }
  }
  return undefined;
}

/** `5` or `0,30`: the values in order; undefined for anything else (ranges, steps, wildcards). */
function numbers(field: string, max: number): number[] | undefined {
  const values = field.split(',').map((part) => (/^\d{1,2}$/.test(part) ? Number(part) : NaN));
  if (values.some((value) => Number.isNaN(value) || value > max)) return undefined;
  return [...new Set(values)].sort((a, b) => a - b);
}
