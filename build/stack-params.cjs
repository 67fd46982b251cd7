// Values of serverless.yml that need a little logic (serverless resolves `${file(...):name}` by
// calling these with its variable resolver). CommonJS: serverless require()s it.

/** `fleetRoles` (comma-separated role names or patterns) as role ARNs for iam:PassRole. */
module.exports.fleetRoleArns = async ({ resolveVariable }) => {
  const names = String(await resolveVariable('param:fleetRoles'))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error('the fleetRoles parameter names no role');
  return names.map((name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${name}` }));
};
