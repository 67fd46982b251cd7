import { api, type RetentionPlan } from '../api';
import { when } from '../format';
import { Code, Loading, PageTitle, ProblemBox, useLoad } from '../ui';

type Image = RetentionPlan['keep'][number];

/** What the janitor would do for a pipeline now (asking changes nothing). */
export function RetentionPage({ pipeline }: { pipeline: string }) {
  const plan = useLoad(`retention/${pipeline}`, () =>
    api<{ plan: RetentionPlan }>('GET', `/retention/${encodeURIComponent(pipeline)}`),
  );
  return (
    <section>
      <PageTitle title={`Retention of ${pipeline}`}>Retention plan: {pipeline}</PageTitle>
      <p class="muted">What the nightly janitor would do now. Nothing is deleted by looking.</p>
      <ProblemBox problem={plan.error} />
      {plan.value ? (
        <>
          <p class="summary">
            <strong>{plan.value.plan.delete.length}</strong> to delete, reclaiming{' '}
            <strong>{plan.value.plan.reclaimGiB} GiB</strong>; <strong>{plan.value.plan.keep.length}</strong>{' '}
            kept.
          </p>
          <h2>Would delete</h2>
          <Images images={plan.value.plan.delete} keep={false} />
          <h2>Kept, and why</h2>
          <Images images={plan.value.plan.keep} keep />
        </>
      ) : plan.error ? null : (
        <Loading what="the plan" />
      )}
    </section>
  );
}

function Images({ images, keep }: { images: Image[]; keep: boolean }) {
  if (images.length === 0) return <p class="muted">None.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Image</th>
            <th scope="col">Region</th>
            <th scope="col">Created</th>
            <th scope="col">Bake</th>
            <th scope="col">GiB</th>
            <th scope="col">{keep ? 'Why kept' : 'Snapshots'}</th>
          </tr>
        </thead>
        <tbody>
          {images.map((image) => (
            <tr key={`${image.region}/${image.imageId}`}>
              <td>
                <Code>{image.imageId}</Code>
                <div class="muted">{image.name}</div>
              </td>
              <td>{image.region}</td>
              <td>{when(image.createdAt)}</td>
              <td>{image.bakeId ? <a href={`#/bakes/${image.bakeId}`}>{image.bakeId}</a> : '—'}</td>
              <td>{image.snapshots.reduce((sum, s) => sum + s.sizeGiB, 0)}</td>
              <td>
                {keep ? (
                  <ul class="reasons">
                    {image.reasons.map((reason) => (
                      <li key={reason}>{reason}</li>
                    ))}
                  </ul>
                ) : (
                  image.snapshots.map((s) => s.snapshotId).join(', ') || '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
