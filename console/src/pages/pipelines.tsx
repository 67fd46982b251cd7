import { useState } from 'preact/hooks';
import { api, ApiProblem, type Bake, type Pipeline, type Skipped } from '../api';
import { when } from '../format';
import { navigate } from '../router';
import { Badge, Code, Loading, PageTitle, ProblemBox, useLoad } from '../ui';

/** Every pipeline: its last bake, the image it publishes in each region, what tonight would do. */
export function PipelinesPage() {
  const pipelines = useLoad(
    'pipelines',
    () => api<{ pipelines: Pipeline[] }>('GET', '/pipelines'),
    () => 10_000,
  );
  return (
    <section>
      <PageTitle title="Pipelines">Pipelines</PageTitle>
      <ProblemBox problem={pipelines.error} />
      {pipelines.value ? (
        <div class="cards">
          {pipelines.value.pipelines.map((p) => (
            <PipelineCard key={p.name} pipeline={p} />
          ))}
        </div>
      ) : pipelines.error ? null : (
        <Loading what="pipelines" />
      )}
    </section>
  );
}

function PipelineCard({ pipeline }: { pipeline: Pipeline }) {
  const last = pipeline.lastBake;
  const nightly = pipeline.nextNightly;
  return (
    <article class="card" aria-labelledby={`pipeline-${pipeline.name}`}>
      <header class="card-head">
        <h2 id={`pipeline-${pipeline.name}`}>{pipeline.name}</h2>
        {last ? <Badge status={last.phase} /> : <Badge status="pending" label="never baked" />}
      </header>
      {pipeline.description ? <p class="muted">{pipeline.description}</p> : null}
      <dl class="facts">
        <dt>Last bake</dt>
        <dd>
          {last ? (
            <>
              <a href={`#/bakes/${last.id}`}>{last.id}</a> <span class="muted">{when(last.createdAt)}</span>
            </>
          ) : (
            'none yet'
          )}
        </dd>
        <dt>Current image</dt>
        <dd>
          <ul class="plain">
            {pipeline.currentImages.map((image) => (
              <li key={image.region}>
                {image.region}:{' '}
                {image.imageId ? <Code>{image.imageId}</Code> : <span class="muted">not published</span>}
              </li>
            ))}
          </ul>
          <span class="muted">
            from <Code>{pipeline.parameter}</Code>
          </span>
        </dd>
        <dt>Next nightly</dt>
        <dd>
          {nightly ? (
            <>
              {nightly.at ? when(nightly.at) : nightly.schedule}
              {' — '}
              {nightly.wouldBake ? 'would bake' : 'would skip'}: <span class="muted">{nightly.reason}</span>
            </>
          ) : (
            <span class="muted">not scheduled</span>
          )}
        </dd>
        <dt>Rollout</dt>
        <dd>
          {pipeline.waves.length === 0
            ? 'none (publish only)'
            : pipeline.waves
                .map((w) => `${w.name}: ${w.targets.join(', ')}${w.requireApproval ? ' (approval)' : ''}`)
                .join(' → ')}
        </dd>
      </dl>
      <BakeNow pipeline={pipeline.name} />
      <p class="links">
        <a href={`#/bakes?pipeline=${encodeURIComponent(pipeline.name)}`}>Bakes of {pipeline.name}</a>
        <a href={`#/retention/${encodeURIComponent(pipeline.name)}`}>Retention plan</a>
      </p>
    </article>
  );
}

/** Starts a bake: the API may skip it (nothing changed) unless forced, and says why. */
function BakeNow({ pipeline }: { pipeline: string }) {
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem>();
  const [skipped, setSkipped] = useState<string>();
  const start = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(undefined);
    setSkipped(undefined);
    try {
      const answer = await api<{ bake: Bake } | Skipped>('POST', '/bakes', {
        body: { pipeline, force, ...(reason.trim() ? { reason: reason.trim() } : {}) },
      });
      if ('skipped' in answer) setSkipped(answer.reason);
      else navigate(`/bakes/${answer.bake.id}`);
    } catch (error) {
      setProblem(ApiProblem.from(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="bake-now" onSubmit={(event) => void start(event)}>
      <label>
        <span>
          Reason <span class="muted">(optional)</span>
        </span>
        <input
          name="reason"
          value={reason}
          maxLength={500}
          onInput={(event) => {
            setReason(event.currentTarget.value);
          }}
        />
      </label>
      <label class="inline">
        <input
          type="checkbox"
          checked={force}
          onChange={(event) => {
            setForce(event.currentTarget.checked);
          }}
        />
        even if nothing changed
      </label>
      <button type="submit" disabled={busy}>
        {busy ? 'Starting…' : `Bake ${pipeline} now`}
      </button>
      {skipped ? (
        <p class="note" role="status">
          Skipped: {skipped}. Tick “even if nothing changed” to bake anyway.
        </p>
      ) : null}
      <ProblemBox problem={problem} />
    </form>
  );
}
