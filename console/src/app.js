// The console's entry point: reads ./config.json, signs the user in, opens the live feed and
// routes on location.hash (#/today, #/baskets, ...) to one page module at a time.

import { Api, routes } from './api.js';
import { Auth } from './auth.js';
import { h, fill } from './dom.js';
import { Feed, FeedState, feedUrl } from './feed.js';
import { Live } from './live.js';
import * as today from './pages/today.js';
import * as baskets from './pages/baskets.js';
import * as allocations from './pages/allocations.js';
import * as positions from './pages/positions.js';
import * as risk from './pages/risk.js';
import * as marketplace from './pages/marketplace.js';
import * as accounts from './pages/accounts.js';
import * as settings from './pages/settings.js';
import * as signin from './pages/signin.js';

const PAGES = { today, baskets, allocations, risk, settings, positions, marketplace, accounts };
const DEFAULT_ROUTE = 'today';
const STATUS_TEXT = {
  [FeedState.CONNECTING]: 'Connecting…',
  [FeedState.LIVE]: 'Live',
  [FeedState.RECONNECTING]: 'Reconnecting…',
  [FeedState.STOPPED]: 'Offline',
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const feedStatus = document.getElementById('feed-status');
const userBox = document.getElementById('user');

let context = null;
let unmount = null;
let reason = '';

async function loadConfig() {
  const reply = await fetch('./config.json', { cache: 'no-store' });
  if (!reply.ok) throw new Error(`config.json: ${reply.status} ${reply.statusText}`);
  const config = await reply.json();
  return {
    api_base_url: config.api_base_url || '',
    feed_url: config.feed_url || '',
    auth: config.auth || { mode: 'local' },
    // The local platform on a replayed or accelerated clock says where its clock stood, and how
    // fast it runs; deployed, the platform's clock is this machine's.
    clock: config.clock ? { ...config.clock, readAt: Date.now() } : null,
  };
}

/** `#/baskets/abc?x=1` -> {name: 'baskets', params: ['abc']} */
function currentRoute() {
  const [name, ...params] = location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean);
  return { name: name || DEFAULT_ROUTE, params: params.map(decodeURIComponent) };
}

function showFeedState(state, feed) {
  feedStatus.dataset.state = state;
  let text = STATUS_TEXT[state] || state;
  if (state === FeedState.RECONNECTING && feed.retryAt) {
    const seconds = Math.max(0, Math.round((feed.retryAt - Date.now()) / 1000));
    if (seconds > 0) text = `Reconnecting in ${seconds} s`;
  }
  fill(feedStatus, h('span', { class: 'dot', 'aria-hidden': 'true' }), text);
}

function renderNav(route) {
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.route === route) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function renderUser(identity) {
  if (!identity) {
    fill(userBox);
    return;
  }
  fill(userBox,
    h('span', { class: 'user-name', testid: 'user-name' }, identity.userId, identity.isAdmin ? ' (admin)' : ''),
    h('button', { type: 'button', class: 'link', testid: 'sign-out', onClick: () => signOut() }, 'Sign out'));
}

function signOut(message = '') {
  reason = message;
  const auth = context?.auth;
  if (context) {
    context.feed.stop();
    context = null;
  }
  renderUser(null);
  auth?.signOut();
}

function startSession(config, auth) {
  const api = new Api({
    baseUrl: config.api_base_url,
    getToken: () => auth.freshToken(),
    onUnauthorized: () => {
      if (!context) return;
      context.feed.stop();
      context = null;
      reason = 'Your session has ended: sign in again.';
      auth.signOut();
    },
  });
  const feed = new Feed({
    url: feedUrl(config),
    getToken: () => auth.freshToken(),
    onAuthFailure: () => api.onUnauthorized(),
  });
  feed.on('state', showFeedState);
  // The feed refuses an expired token at connect (a failed handshake, no close code to read):
  // rather than retry for ever, the session ends as it does on the API's 401.
  feed.on('state', (state) => {
    if (state === FeedState.RECONNECTING && !auth.token) api.onUnauthorized();
  });
  const calls = routes(api);
  const live = new Live(calls, feed, config.clock);
  context = { config, auth, api: calls, feed, live, identity: auth.identity, navigate: (hash) => { location.hash = hash; } };
  renderUser(context.identity);
  feed.start();
  return context;
}

function route(config, auth) {
  if (unmount) {
    unmount();
    unmount = null;
  }
  const { name, params } = currentRoute();
  if (!auth.token) {
    if (context) {
      context.feed.stop();
      context = null;
    }
    renderUser(null);
    renderNav('signin');
    document.body.classList.add('signed-out');
    const signedIn = () => {
      reason = '';
      if (name === 'signin') location.hash = `#/${DEFAULT_ROUTE}`; // hashchange routes
      else route(config, auth);
    };
    unmount = signin.mount(main, { config, auth, reason, signedIn });
    document.title = 'Sign in · Options console';
    return;
  }
  document.body.classList.remove('signed-out');
  if (!context) startSession(config, auth);
  const page = PAGES[name];
  if (!page) {
    location.replace(`#/${DEFAULT_ROUTE}`);
    return;
  }
  renderNav(name);
  document.title = `${page.title} · Options console`;
  fill(main);
  unmount = page.mount(main, context, params) || null;
  main.focus({ preventScroll: true });
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    fill(main, h('div', { class: 'form-error', role: 'alert' },
      h('h1', {}, 'The console cannot start'),
      h('p', {}, `It could not read its configuration (${error.message}).`)));
    return;
  }
  const auth = new Auth(config.auth);
  try {
    const back = await auth.completeSignIn();
    if (back) location.hash = back;
  } catch (error) {
    reason = error.message;
  }
  addEventListener('hashchange', () => route(config, auth));
  if (!location.hash) location.replace(`#/${DEFAULT_ROUTE}`);
  route(config, auth);
}

start();
