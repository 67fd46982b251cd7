import { ConfigError, NotFoundError } from '../errors';
import { pipelinesSchema, type Pipeline } from './schema';

export interface PipelineDefaults {
  /** The stack's builder instance profile, for pipelines that name none. */
  readonly builderProfile?: string;
}

/**
 * Validates pipeline definitions and fills in the stack's defaults.
 * @throws ConfigError naming the pipeline (by name, else by position) and the field of each problem,
 * or a pipeline with no builder profile where the stack provides none.
 */
export function loadPipelines(raw: unknown, defaults: PipelineDefaults = {}): readonly Pipeline[] {
  const parsed = pipelinesSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const [index, ...field] = issue.path;
      const entry =
        Array.isArray(raw) && typeof index === 'number' ? (raw[index] as { name?: unknown }) : undefined;
      const which =
        typeof entry?.name === 'string' ? `pipeline "${entry.name}"` : `pipeline #${String(index)}`;
      return `${which}, field ${field.join('.') || '(root)'}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid pipeline configuration: ${problems.join('; ')}`, { cause: parsed.error });
  }
  const seen = new Set<string>();
  const loaded: Pipeline[] = [];
  for (const pipeline of parsed.data) {
    if (seen.has(pipeline.name)) {
      throw new ConfigError(`Invalid pipeline configuration: pipeline "${pipeline.name}" is defined twice`);
    }
    seen.add(pipeline.name);
    const instanceProfile = pipeline.builder.instanceProfile ?? defaults.builderProfile;
    if (!instanceProfile) {
      throw new ConfigError(
        `Invalid pipeline configuration: pipeline "${pipeline.name}", field builder.instanceProfile: ` +
          'required where the stack provides no builder profile (BUILDER_INSTANCE_PROFILE)',
      );
    }
    loaded.push(Object.freeze({ ...pipeline, builder: { ...pipeline.builder, instanceProfile } }));
  }
  return Object.freeze(loaded);
}

/** Looks pipelines up by name. */
export class PipelineCatalog {
  private readonly byName: ReadonlyMap<string, Pipeline>;

  constructor(readonly all: readonly Pipeline[]) {
    this.byName = new Map(all.map((pipeline) => [pipeline.name, pipeline]));
  }

  /** @throws NotFoundError for an unknown pipeline. */
  get(name: string): Pipeline {
    const pipeline = this.byName.get(name);
    // A name no pipeline has is echoed only as far as a pipeline name can go.
    if (!pipeline) throw new NotFoundError(`Unknown pipeline: ${JSON.stringify(name.slice(0, 40))}`);
    return pipeline;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}
