import type { PipelineInput } from '../lib/pipeline/schema';

/**
 * The pipelines this deployment bakes. Validated when tests run, when the stack is packaged
 * (`npm run package`) and at every cold start. Field reference: docs/pipelines.md.
 *
 * Network settings name things by tag or group name, not by id, so the same file works in
 * every account and stage: `subnet` is a subnet id or its Name tag, `securityGroups` ids or names.
 * No builder names an instance profile: the stack's own (one per stage and region) is used.
 */
export const pipelines: PipelineInput[] = [
  {
    name: 'web',
    description: 'Node.js app server: Node.js 22 and PM2, the app started under PM2 at boot',
    baseImage: { ssmParameter: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' },
    builder: {
      instanceTypes: ['t3.small', 't3a.small', 'm6i.large'],
      subnet: 'ami-bakery-builders',
      securityGroups: ['ami-bakery-builder'],
      rootVolume: { sizeGiB: 16, type: 'gp3' },
    },
    provision: [
      {
        name: 'install-node',
        run: ['set -euo pipefail', 'dnf install -y nodejs22 nodejs22-npm', 'node --version'],
      },
      {
        name: 'install-pm2',
        run: ['set -euo pipefail', 'npm install -g pm2@6', 'pm2 --version'],
      },
      {
        name: 'deploy-app',
        run: [
          'set -euo pipefail',
          'id app || useradd --system --create-home app',
          'install -d -o app /opt/app',
          'aws s3 cp "s3://${APP_BUCKET:-ami-bakery-artifacts}/web/app.tgz" /tmp/app.tgz',
          'tar -xzf /tmp/app.tgz -C /opt/app && chown -R app /opt/app',
          'cd /opt/app && sudo -u app npm ci --omit=dev',
        ],
      },
      {
        name: 'pm2-at-boot',
        run: [
          'set -euo pipefail',
          'sudo -u app pm2 start /opt/app/ecosystem.config.js --env production',
          'sudo -u app pm2 save',
          'env PATH=$PATH pm2 startup systemd -u app --hp /home/app',
        ],
      },
    ],
    validate: [
      { name: 'app-healthy', run: ['set -euo pipefail', 'sleep 5', 'curl -fsS localhost:3000/health'] },
      { name: 'pm2-saved', run: ['set -euo pipefail', 'sudo -u app pm2 jlist | grep -q online'] },
    ],
    image: {
      name: '{pipeline}-{date}-{bakeId}',
      description: 'Node.js 22 + PM2 app server, baked by ami-bakery',
      tags: { app: 'web', os: 'al2023' },
    },
    publish: { parameter: '/ami-bakery/web/latest' },
    rollout: {
      targets: [{ autoScalingGroup: 'web-fleet', setDefaultVersion: true }],
      refresh: {
        minHealthyPercentage: 50,
        instanceWarmupSeconds: 120,
        skipMatching: true,
        autoRollback: true,
      },
      whenRefreshInProgress: 'wait',
    },
    schedule: { nightly: true, maxAgeDays: 14 },
  },
  {
    name: 'minimal',
    description: 'Patched Amazon Linux 2023, nothing else',
    baseImage: { ssmParameter: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' },
    builder: {
      instanceTypes: ['t3.micro'],
      subnet: 'ami-bakery-builders',
      securityGroups: ['ami-bakery-builder'],
    },
    provision: [{ name: 'update', run: ['dnf upgrade -y --refresh'] }],
    validate: [{ name: 'kernel', run: ['uname -r'] }],
    image: { name: '{pipeline}-{date}-{bakeId}', tags: { os: 'al2023' } },
    publish: { parameter: '/ami-bakery/minimal/latest' },
    schedule: { nightly: true, maxAgeDays: 30 },
  },
];
