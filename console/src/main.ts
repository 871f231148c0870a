import type { LibraClient } from 'libra-serverless/client';
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  type ConsoleConfig,
  loadConfig,
  makeClient,
  savedToken,
  savedUser,
  saveToken,
  saveUser,
} from './api.ts';
import { html } from './html.ts';
import { JobPage } from './pages/job.ts';
import { JobsPage } from './pages/jobs.ts';
import { PoolsPage } from './pages/pools.ts';
import { SubmitPage } from './pages/submit.ts';

/** Hash routes (`#/jobs/…`): any static host serves the one index.html, no rewrite rules needed. */
type Route =
  | { page: 'jobs'; query: URLSearchParams }
  | { page: 'job'; jobId: string }
  | { page: 'pools' }
  | { page: 'submit' };

function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  if (parts[0] === 'jobs' && parts[1]) return { page: 'job', jobId: decodeURIComponent(parts[1]) };
  if (parts[0] === 'pools') return { page: 'pools' };
  if (parts[0] === 'submit') return { page: 'submit' };
  return { page: 'jobs', query: new URLSearchParams(search) };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return parseRoute(hash);
}

function Identity({ config, user, token, onUser, onToken }: IdentityProps) {
  if (config.auth === 'jwt') {
    return html`<label class="identity">
      Token${config.jwtIssuer ? html` <small>(from ${config.jwtIssuer})</small>` : ''}
      <input type="password" value=${token} autocomplete="off"
        onChange=${(e: Event) => onToken((e.target as HTMLInputElement).value.trim())} />
    </label>`;
  }
  return html`<label class="identity">
    User
    <input name="user" value=${user} size="12" autocomplete="username"
      onChange=${(e: Event) => onUser((e.target as HTMLInputElement).value.trim() || 'local-user')} />
  </label>`;
}
interface IdentityProps {
  config: ConsoleConfig;
  user: string;
  token: string;
  onUser: (user: string) => void;
  onToken: (token: string) => void;
}

function App({ config }: { config: ConsoleConfig }) {
  const route = useRoute();
  const [user, setUser] = useState(savedUser);
  const [token, setToken] = useState(savedToken);
  const client: LibraClient = useMemo(() => makeClient(config, user, token), [config, user, token]);
  const tab = route.page === 'job' ? 'jobs' : route.page;
  const link = (page: string, label: string) =>
    html`<a href=${`#/${page}`} aria-current=${tab === page ? 'page' : undefined}>${label}</a>`;
  let body: unknown;
  switch (route.page) {
    case 'jobs':
      body = html`<${JobsPage} client=${client} query=${route.query} key=${user} />`;
      break;
    case 'job':
      body = html`<${JobPage} client=${client} jobId=${route.jobId} key=${`${user}/${route.jobId}`} />`;
      break;
    case 'pools':
      body = html`<${PoolsPage} client=${client} key=${user} />`;
      break;
    case 'submit':
      body = html`<${SubmitPage} client=${client} />`;
      break;
  }
  return html`
    <header>
      <strong class="brand">Libra</strong>
      <nav aria-label="Pages">${link('jobs', 'Jobs')} ${link('pools', 'Pools')} ${link('submit', 'Submit')}</nav>
      <${Identity} config=${config} user=${user} token=${token}
        onUser=${(next: string) => {
          saveUser(next);
          setUser(next);
        }}
        onToken=${(next: string) => {
          saveToken(next);
          setToken(next);
        }} />
    </header>
    <main>${body}</main>`;
}

const root = document.getElementById('app');
if (root) {
  const config = await loadConfig();
  root.textContent = '';
  render(html`<${App} config=${config} />`, root);
}
