import { render } from 'preact';
import { adoptKey } from './api';
import { BakePage } from './pages/bake';
import { BakesPage } from './pages/bakes';
import { PipelinesPage } from './pages/pipelines';
import { RetentionPage } from './pages/retention';
import { useRoute } from './router';

function Page() {
  const { path, query } = useRoute();
  const bake = /^\/bakes\/([^/]+)$/.exec(path)?.[1];
  if (bake) return <BakePage id={decodeURIComponent(bake)} />;
  if (path === '/bakes') return <BakesPage query={query} />;
  const retention = /^\/retention\/([^/]+)$/.exec(path)?.[1];
  if (retention) return <RetentionPage pipeline={decodeURIComponent(retention)} />;
  if (path === '/') return <PipelinesPage />;
  return (
    <section>
      <h1>Not here</h1>
      <p>
        No page at <code>{path}</code>. <a href="#/">Pipelines</a>
      </p>
    </section>
  );
}

function App() {
  const { path } = useRoute();
  const current = (prefix: string) =>
    (prefix === '/' ? path === '/' : path.startsWith(prefix)) ? ('page' as const) : undefined;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">ami-bakery</span>
        <nav aria-label="Main">
          <a href="#/" aria-current={current('/')}>
            Pipelines
          </a>
          <a href="#/bakes" aria-current={current('/bakes')}>
            Bakes
          </a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}

adoptKey();
const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
