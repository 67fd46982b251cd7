import { api, type BakeList, type Pipeline } from '../api';
import { duration, isTerminal, PHASES, when } from '../format';
import { navigate } from '../router';
import { Badge, Loading, PageTitle, ProblemBox, useLoad } from '../ui';

/** Recent bakes, newest first, filtered by pipeline and status, a page at a time. */
export function BakesPage({ query }: { query: URLSearchParams }) {
  const pipeline = query.get('pipeline') ?? '';
  const status = query.get('status') ?? '';
  const cursor = query.get('cursor') ?? '';
  const key = `bakes?${query.toString()}`;
  const bakes = useLoad(
    key,
    () => api<BakeList>('GET', '/bakes', { query: { pipeline, status, cursor, limit: '20' } }),
    // A page with unfinished bakes follows them.
    (page) => (page.bakes.some((b) => !isTerminal(b.phase)) ? 2000 : undefined),
  );
  const names = useLoad('pipeline-names', () => api<{ pipelines: Pipeline[] }>('GET', '/pipelines'));
  const go = (changes: Record<string, string>) => {
    const next = new URLSearchParams({ pipeline, status, ...changes });
    for (const [name, value] of [...next]) if (!value) next.delete(name);
    navigate(`/bakes${next.size > 0 ? `?${next.toString()}` : ''}`);
  };
  return (
    <section>
      <PageTitle title="Bakes">Bakes</PageTitle>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault();
        }}
      >
        <label>
          Pipeline
          <select
            value={pipeline}
            onChange={(event) => {
              go({ pipeline: event.currentTarget.value });
            }}
          >
            <option value="">all</option>
            {(names.value?.pipelines ?? []).map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
            {pipeline && !names.value?.pipelines.some((p) => p.name === pipeline) ? (
              <option value={pipeline}>{pipeline}</option>
            ) : null}
          </select>
        </label>
        <label>
          Status
          <select
            value={status}
            onChange={(event) => {
              go({ status: event.currentTarget.value });
            }}
          >
            <option value="">any</option>
            <option value="active">active (unfinished)</option>
            {PHASES.map((phase) => (
              <option key={phase} value={phase}>
                {phase}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ProblemBox problem={bakes.error} />
      {bakes.value ? (
        bakes.value.bakes.length === 0 ? (
          <p>
            No bakes{pipeline ? ` of ${pipeline}` : ''}
            {status ? ` with status ${status}` : ''}.
          </p>
        ) : (
          <div class="table-wrap">
            <table>
              <caption class="visually-hidden">Bakes, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Bake</th>
                  <th scope="col">Pipeline</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Took</th>
                  <th scope="col">Image</th>
                </tr>
              </thead>
              <tbody>
                {bakes.value.bakes.map((bake) => (
                  <tr key={bake.id}>
                    <td>
                      <a href={`#/bakes/${bake.id}`}>{bake.id}</a>
                      {bake.kind === 'rollout' ? <span class="muted"> (rollout)</span> : null}
                    </td>
                    <td>{bake.pipeline}</td>
                    <td>
                      <Badge status={bake.phase} />
                    </td>
                    <td>{when(bake.createdAt)}</td>
                    <td>{duration(bake.durations.reduce((sum, d) => sum + d.seconds, 0))}</td>
                    <td>{bake.image?.imageId ?? <span class="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : bakes.error ? null : (
        <Loading what="bakes" />
      )}
      <nav class="pager" aria-label="Pages">
        {cursor ? (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              history.back();
            }}
          >
            ← Newer
          </button>
        ) : null}
        {bakes.value?.next ? (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              go({ cursor: bakes.value?.next ?? '' });
            }}
          >
            Older →
          </button>
        ) : null}
      </nav>
    </section>
  );
}
