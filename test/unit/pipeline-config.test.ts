import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { recipeHash } from '../../lib/bake/recipe';
import { ConfigError, NotFoundError } from '../../lib/errors';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';
import type { PipelineInput } from '../../lib/pipeline/schema';

const [web] = pipelines as [PipelineInput, ...PipelineInput[]];

function withWeb(patch: Record<string, unknown>): unknown[] {
  return [{ ...web, ...patch }];
}

describe('the builder profile', () => {
  it("is the stack's where a pipeline names none, and the pipeline's own where it does", () => {
    const own = { ...web, builder: { ...(web as { builder: object }).builder, instanceProfile: 'mine' } };
    const [fromStack, named] = loadPipelines([web, { ...own, name: 'own' }], {
      builderProfile: 'stack-builder',
    });

    expect(fromStack?.builder.instanceProfile).toBe('stack-builder');
    expect(named?.builder.instanceProfile).toBe('mine');
  });

  it('is required where the stack provides none', () => {
    expect(() => loadPipelines([web])).toThrow(
      /pipeline "web", field builder.instanceProfile: required where the stack provides no builder profile/,
    );
  });
});

describe('the checked-in pipelines', () => {
  it('validate, with web (Node.js + PM2) and minimal', () => {
    const loaded = loadPipelines(pipelines, { builderProfile: 'ami-bakery-builder' });

    expect(loaded.map((p) => p.name)).toEqual(['web', 'minimal']);
    expect(loaded[0]?.provision.map((s) => s.name)).toEqual([
      'install-node',
      'install-pm2',
      'deploy-app',
      'pm2-at-boot',
    ]);
    expect(loaded[0]?.provision[0]?.timeoutSeconds).toBe(900);
    expect(Object.isFrozen(loaded[0])).toBe(true);
  });
});

describe('invalid pipeline configuration', () => {
  it.each<[string, unknown, RegExp]>([
    ['a bad name', withWeb({ name: 'Web App' }), /pipeline "Web App", field name: lowercase/],
    ['no provisioning step', withWeb({ provision: [] }), /pipeline "web", field provision:/],
    [
      'a step without commands',
      withWeb({ provision: [{ name: 'x', run: [] }] }),
      /pipeline "web", field provision\.0\.run:/,
    ],
    ['an unknown field', withWeb({ colour: 'blue' }), /pipeline "web", field \(root\): Unrecognized key/],
    [
      'a bad region',
      withWeb({ distribute: { regions: ['Paris'] } }),
      /pipeline "web", field distribute\.regions\.0: must be an AWS region/,
    ],
    [
      'a bad account',
      withWeb({ distribute: { accounts: ['12'] } }),
      /field distribute\.accounts\.0: must be a 12-digit account id/,
    ],
    [
      'a target in an account the image is not shared with',
      withWeb({
        rollout: {
          targets: [{ autoScalingGroup: 'g', account: '222233334444' }],
          targetRole: { externalId: 'ext-1' },
        },
      }),
      /g is in account 222233334444, which the image is not shared with: add it to distribute\.accounts/,
    ],
    [
      'a target in another account without a role to reach it',
      withWeb({
        distribute: { accounts: ['222233334444'] },
        rollout: { targets: [{ autoScalingGroup: 'g', account: '222233334444' }] },
      }),
      /field rollout\.targetRole: g is in account 222233334444: give rollout\.targetRole/,
    ],
    [
      'a target role the stack may not assume',
      withWeb({
        rollout: { targets: [{ autoScalingGroup: 'g' }], targetRole: { name: 'admin', externalId: 'ext-1' } },
      }),
      /field rollout\.targetRole\.name: must start with ami-bakery-target/,
    ],
    [
      'a copy key for a region the pipeline does not copy to',
      withWeb({ distribute: { kmsKeys: { 'eu-west-1': 'arn:aws:kms:eu-west-1:1:key/k' } } }),
      /field distribute\.kmsKeys\.eu-west-1: eu-west-1 is not one of distribute\.regions/,
    ],
    [
      'an image name that is not unique',
      withWeb({ image: { name: '{pipeline}-latest' } }),
      /field image\.name: must contain \{bakeId\}/,
    ],
    [
      'a checkpoint delay without checkpoints (AWS refuses it)',
      withWeb({ rollout: { targets: [{ autoScalingGroup: 'g' }], refresh: { checkpointDelaySeconds: 60 } } }),
      /field rollout\.refresh\.checkpointDelaySeconds: checkpointDelaySeconds needs checkpointPercentages/,
    ],
    [
      'checkpoints that end below 100 (a partial refresh)',
      withWeb({
        rollout: { targets: [{ autoScalingGroup: 'g' }], refresh: { checkpointPercentages: [20, 50] } },
      }),
      /field rollout\.refresh\.checkpointPercentages: the last of checkpointPercentages must be 100/,
    ],
    ['an unnamed pipeline', [{ builder: {} }], /pipeline #0, field name/],
  ])('rejects %s, naming the pipeline and the field', (_, raw, message) => {
    expect(() => loadPipelines(raw)).toThrow(ConfigError);
    expect(() => loadPipelines(raw)).toThrow(message);
  });

  it('rejects a pipeline defined twice', () => {
    expect(() => loadPipelines([web, web], { builderProfile: 'ami-bakery-builder' })).toThrow(
      /pipeline "web" is defined twice/,
    );
  });
});

describe('the pipeline catalog', () => {
  it('finds a pipeline by name and refuses an unknown one', () => {
    const catalog = new PipelineCatalog(loadPipelines(pipelines, { builderProfile: 'ami-bakery-builder' }));

    expect(catalog.get('minimal').name).toBe('minimal');
    expect(() => catalog.get('nope')).toThrow(NotFoundError);
  });
});

describe('the recipe hash', () => {
  const [loaded] = loadPipelines([web], { builderProfile: 'ami-bakery-builder' }) as [
    ReturnType<typeof loadPipelines>[number],
  ];

  it('is stable for the same recipe and base image', () => {
    expect(recipeHash(loaded, 'ami-1')).toBe(
      recipeHash(loadPipelines([web], { builderProfile: 'ami-bakery-builder' })[0] ?? loaded, 'ami-1'),
    );
  });

  it.each<[string, ReturnType<typeof loadPipelines>[number]]>([
    [
      'a step',
      { ...loaded, provision: [...loaded.provision, { name: 'more', run: ['true'], timeoutSeconds: 60 }] },
    ],
    ['the instance type', { ...loaded, builder: { ...loaded.builder, instanceTypes: ['c7g.large'] } }],
    ['the volume', { ...loaded, builder: { ...loaded.builder, rootVolume: { sizeGiB: 32, type: 'gp3' } } }],
    ['the image tags', { ...loaded, image: { ...loaded.image, tags: { app: 'other' } } }],
  ])('changes with %s', (_, changed) => {
    expect(recipeHash(changed, 'ami-1')).not.toBe(recipeHash(loaded, 'ami-1'));
  });

  it('changes with the base image', () => {
    expect(recipeHash(loaded, 'ami-2')).not.toBe(recipeHash(loaded, 'ami-1'));
  });
});
