// A serverless plugin: refuses, before packaging, the names AWS would refuse only at deploy time
// (a long stage name makes every function name too long, and CloudFormation fails half-way).
// Limits: Lambda CreateFunction FunctionName (64), EventBridge PutRule Name (64), SQS CreateQueue
// QueueName (80), SNS CreateTopic Name (256), CloudFormation stack names (128, a letter first).

const LIMITS = {
  function: { max: 64, pattern: /^[a-zA-Z0-9-_]+$/ },
  rule: { max: 64, pattern: /^[.\-_A-Za-z0-9]+$/ },
  queue: { max: 80, pattern: /^[a-zA-Z0-9_-]+$/ },
  topic: { max: 256, pattern: /^[a-zA-Z0-9_-]+$/ },
  stack: { max: 128, pattern: /^[a-zA-Z][-a-zA-Z0-9]*$/ },
};

/** Every name the stack gives a resource AWS limits, with its kind. */
function namesOf(service) {
  const names = [];
  const stage = service.provider.stage;
  names.push(['stack', `${service.service}-${stage}`]);
  for (const key of service.getAllFunctions()) {
    const fn = service.getFunction(key);
    names.push(['function', fn.name]);
    (fn.events ?? []).forEach((event, index) => {
      if (event.schedule?.name) names.push(['rule', event.schedule.name]);
      // serverless names EventBridge rules `<function name>-rule-<n>` (n counts every event).
      if (event.eventBridge) names.push(['rule', `${fn.name}-rule-${index + 1}`]);
    });
  }
  for (const resource of Object.values(service.resources?.Resources ?? {})) {
    const properties = resource?.Properties ?? {};
    if (resource?.Type === 'AWS::SQS::Queue' && typeof properties.QueueName === 'string')
      names.push(['queue', properties.QueueName]);
    if (resource?.Type === 'AWS::SNS::Topic' && typeof properties.TopicName === 'string')
      names.push(['topic', properties.TopicName]);
  }
  return names;
}

/** The problems with `names`, one sentence each. */
function problemsWith(names) {
  const problems = [];
  for (const [kind, name] of names) {
    const { max, pattern } = LIMITS[kind];
    if (name.length > max)
      problems.push(`${kind} name "${name}" is ${name.length} characters; AWS allows ${max}`);
    else if (!pattern.test(name))
      problems.push(`${kind} name "${name}" has characters AWS refuses (${pattern})`);
  }
  return problems;
}

class CheckNames {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  check() {
    const problems = problemsWith(namesOf(this.serverless.service));
    if (problems.length > 0) {
      const stage = this.serverless.service.provider.stage;
      throw new this.serverless.classes.Error(
        `AWS would refuse these names (stage "${stage}"); choose a shorter stage or service name:\n  - ${problems.join('\n  - ')}`,
      );
    }
  }
}

module.exports = CheckNames;
module.exports.problemsWith = problemsWith;
