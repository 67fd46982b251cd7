import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem } from './api';
import { toneOf } from './format';

export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: ApiProblem | undefined;
  /** Load again now (after an action changed what is shown). */
  readonly reload: () => void;
}

/**
 * Loads what a page shows, again whenever `key` changes, and every `every(value)` ms while that
 * says so (a running bake: live, without reloading the page). A failed load keeps the last value
 * and shows why; polling goes on.
 */
export function useLoad<T>(
  key: string,
  load: () => Promise<T>,
  every?: (value: T) => number | undefined,
): Loaded<T> {
  const [state, setState] = useState<{ key: string; value?: T; error?: ApiProblem }>({ key });
  const [tick, setTick] = useState(0);
  const current = useRef(load);
  current.current = load;
  const cadence = useRef(every);
  cadence.current = every;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      let next: number | undefined;
      try {
        const value = await current.current();
        if (stopped) return;
        setState({ key, value });
        next = cadence.current?.(value);
      } catch (error) {
        if (stopped) return;
        const problem = ApiProblem.from(error);
        setState((last) => ({
          key,
          ...(last.key === key && last.value !== undefined ? { value: last.value } : {}),
          error: problem,
        }));
        next = cadence.current ? 3000 : undefined;
      }
      if (next !== undefined) timer = setTimeout(() => void run(), next);
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [key, tick]);
  const reload = useCallback(() => {
    setTick((n) => n + 1);
  }, []);
  const fresh = state.key === key;
  return { value: fresh ? state.value : undefined, error: fresh ? state.error : undefined, reload };
}

export function Badge({ status, label }: { status: string; label?: string }) {
  return <span class={`badge tone-${toneOf(status)}`}>{label ?? status}</span>;
}

export function ProblemBox({ problem }: { problem: ApiProblem | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong> {problem.detail}
      {problem.field ? <span class="muted"> ({problem.field})</span> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** Whether a page was shown yet: the first one leaves focus where the browser puts it. */
let shown = false;

/**
 * A page's heading, focused when the reader moves to another page (not on the first), so a
 * screen reader says where it is and Tab goes on from there.
 */
export function PageTitle({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · ami-bakery`;
    if (shown) ref.current?.focus();
    shown = true;
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Code({ children }: { children: ComponentChildren }) {
  return <code class="id">{children}</code>;
}

/** A percentage as a bar the eye reads and assistive technology announces. */
export function Progress({ value, label }: { value: number; label: string }) {
  const clamped = Math.max(0, Math.min(100, value));
  return (
    <span
      class="progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={clamped}
      aria-label={label}
    >
      <span class="progress-fill" style={{ width: `${clamped}%` }} />
    </span>
  );
}
