import './style.css';
import { ApiError, api } from './api.js';
import { h } from './dom.js';
import type { Environment, PageContext } from './page.js';
import { channelsPage } from './pages/channels.js';
import { debuggerPage } from './pages/debugger.js';
import { deliveriesPage } from './pages/deliveries.js';
import { healthPage } from './pages/health.js';
import { importsPage } from './pages/imports.js';
import { reportsPage } from './pages/reports.js';
import { setupPage } from './pages/setup.js';

const PAGES: Record<string, { title: string; render: (c: PageContext) => Promise<void> }> = {
  debugger: { title: 'Live debugger', render: debuggerPage },
  reports: { title: 'Reports', render: reportsPage },
  channels: { title: 'Channels', render: channelsPage },
  deliveries: { title: 'Deliveries', render: deliveriesPage },
  health: { title: 'Health', render: healthPage },
  import: { title: 'Import', render: importsPage },
  setup: { title: 'Setup', render: setupPage },
};

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const envSelect = document.getElementById('env') as HTMLSelectElement;
const logout = document.getElementById('logout') as HTMLButtonElement;
let environments: Environment[] = [];
let leave = new AbortController();

function showLogin(message = ''): void {
  nav.replaceChildren();
  logout.hidden = true;
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const error = h('p', { class: 'error', role: 'alert' }, message);
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: (e: Event) => {
        e.preventDefault();
        api('/api/session', 'POST', { token: input.value }).then(
          () => start(),
          (err: Error) => {
            error.textContent = err.message;
          },
        );
      },
    },
    h('h1', {}, 'Log in'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('button', { type: 'submit' }, 'Log in'),
    error,
  );
  main.replaceChildren(form);
  input.focus();
}

function route(): string {
  const name = location.hash.replace(/^#\/?/, '');
  return name in PAGES ? name : 'debugger';
}

async function render(): Promise<void> {
  leave.abort();
  leave = new AbortController();
  const name = route();
  // Destinations change from the Setup page (and other admins): each page gets them fresh.
  try {
    environments = (await api<{ environments: Environment[] }>('/api/environments')).environments;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin('Your session ended.');
    throw e;
  }
  const env = environments.find((e) => e.id === envSelect.value) ?? environments[0];
  for (const a of Array.from(nav.querySelectorAll('a')))
    a.toggleAttribute('aria-current', a.getAttribute('href') === `#/${name}`);
  document.title = `${PAGES[name].title} · pixeltrail`;
  main.replaceChildren(h('h1', {}, PAGES[name].title));
  try {
    await PAGES[name].render({ env, main, signal: leave.signal });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return showLogin('Your session ended.');
    main.append(h('p', { class: 'error', role: 'alert' }, (e as Error).message));
  }
}

async function start(): Promise<void> {
  // Asking first keeps a logged-out visit free of 401s in the console.
  const session = await api<{ authenticated: boolean }>('/api/session');
  if (!session.authenticated) return showLogin();
  environments = (await api<{ environments: Environment[] }>('/api/environments')).environments;
  logout.hidden = false;
  const saved = localStorage.getItem('pixeltrail.env');
  envSelect.replaceChildren(
    ...environments.map((e) => h('option', { value: e.id, selected: e.id === saved }, e.name)),
  );
  nav.replaceChildren(
    ...Object.entries(PAGES).map(([k, p]) => h('a', { href: `#/${k}` }, p.title)),
  );
  await render();
}

envSelect.addEventListener('change', () => {
  localStorage.setItem('pixeltrail.env', envSelect.value);
  void render();
});
window.addEventListener('hashchange', () => void render());
logout.addEventListener('click', () => {
  void api('/api/session', 'DELETE').then(() => showLogin());
});
void start();
