import { useEffect, useState } from 'preact/hooks';

/** Where the console is: the part of the address after `#` (`/bakes/b…?x=y`). */
export interface Route {
  readonly path: string;
  readonly query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?', 2);
  return { path: path.startsWith('/') ? path : `/${path}`, query: new URLSearchParams(query) };
}

export function navigate(path: string): void {
  location.hash = `#${path}`;
}

/** The current route, following the address bar (back and forward work as links do). */
export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const follow = () => {
      setHash(location.hash);
    };
    addEventListener('hashchange', follow);
    return () => {
      removeEventListener('hashchange', follow);
    };
  }, []);
  return parseRoute(hash);
}
