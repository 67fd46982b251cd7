import { describe, expect, it } from 'vitest';
import { pipelines } from '../../config/pipelines';
import { lifecycleFor } from '../../lib/lifecycle/engine';
import { loadPipelines, PipelineCatalog } from '../../lib/pipeline/catalog';

// Its own file: Stryker's vitest runner names the tests of a describe that follows this one in the
// same file after this describe, so a mutant run (filtered by name) never ran them.
describe('lifecycleFor', () => {
  const catalog = new PipelineCatalog(
    loadPipelines(
      [
        ...pipelines,
        {
          ...pipelines[1],
          name: 'other',
          lifecycle: { drain: { command: ['pipeline-drain'] } },
          rollout: {
            targets: [
              { autoScalingGroup: 'blue', lifecycle: { readiness: { ec2StatusChecks: true } } },
              { autoScalingGroup: 'green' },
            ],
          },
        },
      ],
      { builderProfile: 'ami-bakery-builder' },
    ),
  );

  it.each([
    [
      'a target with its own configuration',
      'blue',
      { pipeline: 'other', config: { readiness: { ec2StatusChecks: true, timeoutSeconds: 600 } } },
    ],
    [
      'a target using its pipeline',
      'green',
      { pipeline: 'other', config: { drain: { command: ['pipeline-drain'], timeoutSeconds: 300 } } },
    ],
    ['a target without any', 'web-fleet', { pipeline: 'web', config: {} }],
    ['a group no pipeline names', 'stranger', undefined],
  ])('finds %s', (_, group, expected) => {
    expect(lifecycleFor(catalog, group)).toEqual(expected);
  });
});
