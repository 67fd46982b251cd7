import { ConfigError, NotFoundError } from '../errors';
import { pipelinesSchema, type Pipeline } from './schema';

/**
 * Validates pipeline definitions.
 * @throws ConfigError naming the pipeline (by name, else by position) and the field of each problem.
 */
export function loadPipelines(raw: unknown): readonly Pipeline[] {
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
  for (const pipeline of parsed.data) {
    if (seen.has(pipeline.name)) {
      throw new ConfigError(`Invalid pipeline configuration: pipeline "${pipeline.name}" is defined twice`);
    }
    seen.add(pipeline.name);
  }
  return Object.freeze(parsed.data.map((pipeline) => Object.freeze(pipeline)));
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
    if (!pipeline) throw new NotFoundError(`Unknown pipeline: ${name}`);
    return pipeline;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }
}
