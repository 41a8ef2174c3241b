// The console's start: who is signed in, the top bar, and which page the address shows
// (#/chat/<conversation>, #/account, #/admin/<section>).

import * as api from './api.js';
import { accountView } from './account.js';
import { adminView } from './admin.js';
import { chatView } from './chat.js';
import { h, replace } from './dom.js';
import { loginView } from './login.js';
import * as session from './session.js';
import { errorBox } from './ui.js';

const root = document.getElementById('app');
const VIEWS = { chat: chatView, account: accountView, admin: adminView };
const TITLES = { chat: 'Chat', account: 'Account', admin: 'Admin' };

let me = null;
let mounted = null; // {name, view}
let shell = null;

function where() {
  const [name, ...params] = location.hash.replace(/^#\/?/, '').split('/');
  return { name: VIEWS[name] ? name : 'chat', params: params.filter(Boolean).map(decodeURIComponent) };
}

export function navigate(name, ...params) {
  const hash = `#/${[name, ...params].map(encodeURIComponent).join('/')}`;
  if (location.hash !== hash) location.hash = hash;
}

function unmount() {
  if (mounted && mounted.view && mounted.view.unmount) mounted.view.unmount();
  mounted = null;
}

function showLogin(message) {
  unmount();
  shell = null;
  me = null;
  document.title = 'simplechat · Sign in';
  loginView(root, { message });
}

function avatar(user) {
  const initial = h('span', { class: 'avatar initial', 'aria-hidden': 'true' }, (user.display_name || user.username).slice(0, 1).toUpperCase());
  const image = h('img', { class: 'avatar', alt: '', src: `../users/${encodeURIComponent(user.username)}/avatar?v=${Date.now()}` });
  image.addEventListener('error', () => image.replaceWith(initial));
  return image;
}

function buildShell() {
  const nav = (name, label) =>
    h('a', { href: `#/${name}`, class: 'nav-link', testid: `nav-${name}`, dataset: { view: name } }, label);
  const logout = h('button', { type: 'button', class: 'ghost', testid: 'logout' }, 'Log out');
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    await session.logOut();
  });
  const ended = h('div', { class: 'banner', role: 'alert', testid: 'session-ended', hidden: true });
  const view = h('main', { id: 'view', class: 'view' });
  const bar = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '#/chat' }, h('img', { src: 'assets/img/logo.svg', alt: '', class: 'logo' }), h('span', { class: 'brand-name' }, 'simplechat')),
    h('nav', { class: 'main-nav', 'aria-label': 'Pages' }, nav('chat', 'Chat'), nav('account', 'Account'), me.role === 'admin' ? nav('admin', 'Admin') : null),
    h('div', { class: 'who' }, avatar(me), h('span', { class: 'who-name', testid: 'who' }, me.display_name || me.username), logout),
  );
  replace(root, bar, ended, view);
  return { bar, ended, view };
}

function route() {
  if (!shell) return;
  const { name, params } = where();
  if (name === 'admin' && me.role !== 'admin') return navigate('chat');
  for (const link of shell.bar.querySelectorAll('.nav-link')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `simplechat · ${TITLES[name]}`;
  if (mounted && mounted.name === name && mounted.view.update) {
    mounted.view.update(params);
    return;
  }
  unmount();
  const context = { me, params, navigate, refreshMe, signIn: () => showLogin() };
  mounted = { name, view: VIEWS[name](shell.view, context) || {} };
}

async function refreshMe() {
  me = await api.get('user/me');
  const name = shell && shell.bar.querySelector('.who-name');
  if (name) name.textContent = me.display_name || me.username;
  const picture = shell && shell.bar.querySelector('.avatar');
  if (picture) picture.replaceWith(avatar(me));
  return me;
}

async function start() {
  if (!session.current()) return showLogin();
  try {
    me = await api.get('user/me');
  } catch (error) {
    if (!session.current()) return showLogin(error.detail);
    const box = errorBox('start-error');
    box.show(error);
    replace(root, h('div', { class: 'center-card' }, box, h('button', { type: 'button', onclick: start }, 'Try again')));
    return;
  }
  shell = buildShell();
  route();
}

session.onChange((current, reason, detail) => {
  if (current) {
    if (!shell && reason === 'signed-in') start(); // here, or in another tab
    return;
  }
  if (reason === 'expired' && shell) {
    // Keep the page (and the error it shows from the API); say the login has ended.
    shell.ended.replaceChildren(
      `You are signed out: ${detail || 'this login is no longer valid.'} `,
      h('button', { type: 'button', onclick: () => showLogin() }, 'Sign in again'),
    );
    shell.ended.hidden = false;
    return;
  }
  showLogin();
});

window.addEventListener('hashchange', route);
start();
