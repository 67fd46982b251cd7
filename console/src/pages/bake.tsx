import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiProblem, type Bake, type BakeList, type Target } from '../api';
import { duration, isTerminal, placeOf, shares, stageOf, when } from '../format';
import { navigate } from '../router';
import { Badge, Code, Loading, PageTitle, ProblemBox, Progress, useLoad } from '../ui';

/** How often a bake under way is asked for again. */
const LIVE_MS = 1500;

/** One bake (or rollout), live while it runs: phases, steps, image, rollout, and what can be done. */
export function BakePage({ id }: { id: string }) {
  const bake = useLoad(
    `bake/${id}`,
    () => api<{ bake: Bake }>('GET', `/bakes/${encodeURIComponent(id)}`),
    ({ bake: b }) =>
      !isTerminal(b.phase)
        ? LIVE_MS
        : b.cleanup && !b.cleanup.confirmedAt && !b.cleanup.gaveUpAt
          ? 5000
          : undefined,
  );
  const b = bake.value?.bake;
  return (
    <section>
      <PageTitle title={`${b?.kind === 'rollout' ? 'Rollout' : 'Bake'} ${id}`}>
        {b?.kind === 'rollout' ? 'Rollout' : 'Bake'} <span class="id">{id}</span>
      </PageTitle>
      <ProblemBox problem={bake.error} />
      {b ? <BakeDetail bake={b} reload={bake.reload} /> : bake.error ? null : <Loading what="the bake" />}
    </section>
  );
}

function BakeDetail({ bake, reload }: { bake: Bake; reload: () => void }) {
  const took = bake.durations.reduce((sum, d) => sum + d.seconds, 0);
  return (
    <>
      <p class="status-line" aria-live="polite">
        <Badge status={bake.phase} />{' '}
        <span>
          {isTerminal(bake.phase)
            ? `${bake.phase} after ${duration(took)}`
            : `${bake.phase} for ${duration(bake.durations.at(-1)?.seconds ?? 0)}`}
        </span>
        {bake.cancelRequested && !isTerminal(bake.phase) ? (
          <span class="muted"> — cancel requested</span>
        ) : null}
      </p>
      <dl class="facts">
        <dt>Pipeline</dt>
        <dd>
          <a href={`#/bakes?pipeline=${encodeURIComponent(bake.pipeline)}`}>{bake.pipeline}</a>
        </dd>
        {bake.reason ? (
          <>
            <dt>Reason</dt>
            <dd>{bake.reason}</dd>
          </>
        ) : null}
        <dt>Started</dt>
        <dd>{when(bake.createdAt)}</dd>
        {bake.finishedAt ? (
          <>
            <dt>Finished</dt>
            <dd>{when(bake.finishedAt)}</dd>
          </>
        ) : null}
        <dt>Base image</dt>
        <dd>
          <Code>{bake.baseImageId}</Code> in {bake.region}
        </dd>
        {bake.builder ? (
          <>
            <dt>Builder</dt>
            <dd>
              {bake.builder.instanceId ? <Code>{bake.builder.instanceId}</Code> : 'not launched yet'} (
              {bake.builder.instanceType}
              {bake.builder.attempt > 1 ? `, attempt ${bake.builder.attempt}` : ''})
            </dd>
          </>
        ) : null}
      </dl>
      <Actions bake={bake} reload={reload} />
      {bake.failure ? <Failure failure={bake.failure} /> : null}
      {bake.rollbackFor ? (
        <div class="problem" role="status">
          Rolling back after: {bake.rollbackFor.message}
        </div>
      ) : null}
      <Timeline bake={bake} />
      {bake.steps.length > 0 ? <Steps steps={bake.steps} /> : null}
      <Image bake={bake} />
      {bake.rollout && bake.rollout.length > 0 ? <Rollout bake={bake} /> : null}
      <Resources bake={bake} />
    </>
  );
}

/** Cancel; approve or reject at a gate; roll an earlier image out. */
function Actions({ bake, reload }: { bake: Bake; reload: () => void }) {
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const [comment, setComment] = useState('');
  const [confirming, setConfirming] = useState(false);
  const act = async (path: string, body?: unknown) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await api('POST', `/bakes/${encodeURIComponent(bake.id)}/${path}`, body === undefined ? {} : { body });
      setComment('');
      setConfirming(false);
      reload();
    } catch (error) {
      setProblem(ApiProblem.from(error));
    } finally {
      setBusy(false);
    }
  };
  const gate = bake.phase === 'awaiting-approval';
  const wave = bake.waves?.find((w) => w.status === 'awaiting-approval');
  return (
    <div class="actions">
      {gate ? (
        <form
          class="approval"
          aria-labelledby="approval-title"
          onSubmit={(event) => {
            event.preventDefault();
          }}
        >
          <h2 id="approval-title">
            Approval{wave && (bake.waves?.length ?? 0) > 1 ? ` of wave ${wave.name}` : ''}
          </h2>
          <p>The image is published; its rollout waits for an answer.</p>
          <label>
            <span>
              Comment <span class="muted">(kept with the answer)</span>
            </span>
            <textarea
              name="comment"
              rows={2}
              maxLength={1000}
              value={comment}
              onInput={(event) => {
                setComment(event.currentTarget.value);
              }}
            />
          </label>
          <div class="buttons">
            <button
              type="button"
              disabled={busy}
              onClick={() => void act('approve', comment.trim() ? { comment: comment.trim() } : {})}
            >
              Approve rollout
            </button>
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => void act('reject', comment.trim() ? { comment: comment.trim() } : {})}
            >
              Reject
            </button>
          </div>
        </form>
      ) : null}
      {!isTerminal(bake.phase) && !bake.cancelRequested ? (
        confirming ? (
          <div class="buttons" role="group" aria-label="Confirm cancel">
            <span>Stop this {bake.kind}? Its builder is terminated; a refresh under way is cancelled.</span>
            <button type="button" class="danger" disabled={busy} onClick={() => void act('cancel')}>
              Yes, cancel it
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setConfirming(false);
              }}
            >
              No
            </button>
          </div>
        ) : (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setConfirming(true);
            }}
          >
            Cancel {bake.kind}…
          </button>
        )
      ) : null}
      {isTerminal(bake.phase) ? <Rollback bake={bake} /> : null}
      <ProblemBox problem={problem} />
    </div>
  );
}

/** Rolls an earlier image of the pipeline out again (a rollout with no bake). */
function Rollback({ bake }: { bake: Bake }) {
  const earlier = useLoad(`rollback/${bake.pipeline}`, () =>
    api<BakeList>('GET', '/bakes', { query: { pipeline: bake.pipeline, status: 'succeeded', limit: '20' } }),
  );
  const [chosen, setChosen] = useState('');
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  const images = [
    ...new Map(
      (earlier.value?.bakes ?? [])
        .filter((b) => b.image && b.id !== bake.id)
        .map((b) => [b.image?.imageId ?? '', b] as const),
    ).values(),
  ];
  if (!earlier.value || images.length === 0) return null;
  const start = async (event: Event) => {
    event.preventDefault();
    if (!chosen) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const { bake: rollout } = await api<{ bake: Bake }>('POST', '/rollouts', {
        body: {
          pipeline: bake.pipeline,
          amiId: chosen,
          reason: `rollback from the console (was ${bake.id})`,
        },
      });
      navigate(`/bakes/${rollout.id}`);
    } catch (error) {
      setProblem(ApiProblem.from(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="rollback" onSubmit={(event) => void start(event)}>
      <label>
        Roll out an earlier image
        <select
          value={chosen}
          onChange={(event) => {
            setChosen(event.currentTarget.value);
          }}
        >
          <option value="">choose an image…</option>
          {images.map((b) => (
            <option key={b.image?.imageId} value={b.image?.imageId}>
              {b.image?.imageId} — bake {b.id} ({when(b.createdAt)})
            </option>
          ))}
        </select>
      </label>
      <button type="submit" class="secondary" disabled={busy || !chosen}>
        Start rollout
      </button>
      <ProblemBox problem={problem} />
    </form>
  );
}

function Failure({ failure }: { failure: NonNullable<Bake['failure']> }) {
  return (
    <div class="failure" role="alert">
      <h2>Failed in {failure.phase}</h2>
      <p>
        <strong>{failure.code}</strong>: {failure.message}
      </p>
      {failure.step ? <p>Step: {failure.step}</p> : null}
      {failure.output ? <pre class="output">{failure.output}</pre> : null}
    </div>
  );
}

/** Each phase drawn to its length, then listed with its start and length. */
function Timeline({ bake }: { bake: Bake }) {
  const widths = shares(bake.durations);
  const start = Date.parse(bake.createdAt);
  const summary = bake.durations.map((d) => `${d.phase} ${duration(d.seconds)}`).join(', ');
  return (
    <section aria-labelledby="timeline-title">
      <h2 id="timeline-title">Timeline</h2>
      <div class="timeline" role="img" aria-label={`Phases: ${summary}`}>
        {bake.durations.map((d, i) => (
          <span
            key={`${d.phase}-${i}`}
            class={`segment stage-${stageOf(d.phase)}${i === bake.durations.length - 1 && !isTerminal(bake.phase) ? ' current' : ''}`}
            style={{ width: `${widths[i] ?? 0}%` }}
            title={`${d.phase}: ${duration(d.seconds)}`}
          />
        ))}
      </div>
      <ol class="phases">
        {bake.timeline.map((entry, i) => {
          const length = bake.durations[i];
          return (
            <li key={`${entry.phase}-${i}`}>
              <span class="at">+{duration((Date.parse(entry.at) - start) / 1000)}</span>
              <span class={`dot stage-${stageOf(entry.phase)}`} aria-hidden="true" />
              <span class="phase">{entry.phase}</span>
              {length ? <span class="muted">{duration(length.seconds)}</span> : null}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Steps({ steps }: { steps: Bake['steps'] }) {
  return (
    <section aria-labelledby="steps-title">
      <h2 id="steps-title">Steps</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Stage</th>
              <th scope="col">Step</th>
              <th scope="col">Status</th>
              <th scope="col">Exit code</th>
              <th scope="col">Output</th>
            </tr>
          </thead>
          <tbody>
            {steps.map((step) => (
              <tr key={`${step.stage}/${step.name}`}>
                <td>{step.stage}</td>
                <td>{step.name}</td>
                <td>
                  <Badge
                    status={
                      step.status === 'Success'
                        ? 'succeeded'
                        : step.status === 'Failed'
                          ? 'failed'
                          : 'running'
                    }
                    label={step.status}
                  />
                </td>
                <td>{step.exitCode ?? '—'}</td>
                <td>
                  {step.outputTail || step.errorTail ? (
                    <details open={step.status === 'Failed'}>
                      <summary>output tail</summary>
                      {step.outputTail ? <pre class="output">{step.outputTail}</pre> : null}
                      {step.errorTail ? (
                        <pre class="output stderr" aria-label="standard error">
                          {step.errorTail}
                        </pre>
                      ) : null}
                    </details>
                  ) : (
                    <span class="muted">none</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Image({ bake }: { bake: Bake }) {
  if (!bake.image && bake.copies.length === 0 && bake.published.length === 0) return null;
  return (
    <section aria-labelledby="image-title">
      <h2 id="image-title">Image</h2>
      <dl class="facts">
        {bake.image ? (
          <>
            <dt>{bake.region}</dt>
            <dd>
              <Code>{bake.image.imageId}</Code> <span class="muted">{bake.image.name}</span>
            </dd>
          </>
        ) : null}
        {bake.copies.map((copy) => (
          <Fragment key={copy.region}>
            <dt>{copy.region}</dt>
            <dd>
              <Code>{copy.imageId}</Code> <span class="muted">copy</span>
            </dd>
          </Fragment>
        ))}
        {bake.published.length > 0 ? (
          <>
            <dt>Published</dt>
            <dd>
              <ul class="plain">
                {bake.published.map((p) => (
                  <li key={`${p.region}${p.parameter}`}>
                    <Code>{p.parameter}</Code> = <Code>{p.imageId}</Code> in {p.region}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

function Rollout({ bake }: { bake: Bake }) {
  const waves = bake.waves ?? [];
  const targets = bake.rollout ?? [];
  return (
    <section aria-labelledby="rollout-title">
      <h2 id="rollout-title">Rollout</h2>
      {waves.length > 0 ? (
        <ol class="waves">
          {waves.map((wave) => (
            <li key={wave.name}>
              <span class="wave-name">{wave.name}</span> <Badge status={wave.status} />
              {wave.startedAt ? <span class="muted"> from {when(wave.startedAt)}</span> : null}
              {wave.endedAt ? <span class="muted"> to {when(wave.endedAt)}</span> : null}
              {wave.approval ? (
                <div class="muted">
                  {wave.approval.decision} by {wave.approval.by ?? 'someone'}
                  {wave.approval.comment ? `: “${wave.approval.comment}”` : ''}
                </div>
              ) : null}
              {wave.reason ? <div class="muted">{wave.reason}</div> : null}
            </li>
          ))}
        </ol>
      ) : null}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Group</th>
              {waves.length > 1 ? <th scope="col">Wave</th> : null}
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Template version</th>
              <th scope="col">Notes</th>
            </tr>
          </thead>
          <tbody>
            {targets.map((target) => (
              <TargetRow
                key={placeOf(target)}
                target={target}
                wave={waves.length > 1 ? (waves[target.wave ?? 0]?.name ?? '') : undefined}
              />
            ))}
          </tbody>
        </table>
      </div>
      {bake.approval ? (
        <p class="muted">
          Approval: {bake.approval.decision} by {bake.approval.by ?? 'someone'} at {when(bake.approval.at)}
          {bake.approval.comment ? ` — “${bake.approval.comment}”` : ''}
        </p>
      ) : null}
    </section>
  );
}

function TargetRow({ target, wave }: { target: Target; wave: string | undefined }) {
  const notes = [
    target.baking ? 'in its bake time' : '',
    target.checkpoint !== undefined ? `checkpoint ${target.checkpoint}%` : '',
    target.reason ?? '',
    target.ended
      ? `ended on ${target.ended.instances.map((i) => `${i.count} × v${i.version}`).join(', ')}`
      : '',
  ].filter(Boolean);
  return (
    <tr>
      <td>{placeOf(target)}</td>
      {wave !== undefined ? <td>{wave}</td> : null}
      <td>
        <Badge status={target.status} />
      </td>
      <td>
        {target.percentage !== undefined ? (
          <>
            <Progress value={target.percentage} label={`${placeOf(target)} refreshed`} /> {target.percentage}%
          </>
        ) : (
          <span class="muted">—</span>
        )}
      </td>
      <td>
        {target.templateId ? <Code>{target.templateId}</Code> : null}{' '}
        {target.version !== undefined ? `v${target.sourceVersion ?? '?'} → v${target.version}` : ''}
      </td>
      <td>{notes.join('; ') || <span class="muted">—</span>}</td>
    </tr>
  );
}

function Resources({ bake }: { bake: Bake }) {
  if (bake.resources.length === 0 && !bake.cleanup) return null;
  return (
    <section aria-labelledby="resources-title">
      <h2 id="resources-title">Resources</h2>
      <ul class="plain">
        {bake.resources.map((r) => (
          <li key={`${r.kind}/${r.region}/${r.id}`}>
            {r.kind} <Code>{r.id}</Code> <span class="muted">{r.region}</span>
          </li>
        ))}
      </ul>
      {bake.cleanup ? (
        <p>
          Clean-up:{' '}
          {bake.cleanup.instances.map((i) => `${i.role} ${i.instanceId} ${i.state}`).join(', ') ||
            'no instances'}
          {bake.cleanup.confirmedAt ? ` — all terminated (${when(bake.cleanup.confirmedAt)})` : ''}
          {bake.cleanup.gaveUpAt ? ' — left to the janitor' : ''}
        </p>
      ) : null}
    </section>
  );
}
