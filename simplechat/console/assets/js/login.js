// Sign in, or create an account and sign in (the password flow; POST /user/ then POST /token).

import * as api from './api.js';
import { h, replace } from './dom.js';
import { busy, errorBox, form } from './ui.js';

export function loginView(root, { message } = {}) {
  let signingUp = false;
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, testid: 'login-username', autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, testid: 'login-password' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'login-submit' }, 'Sign in');
  const errors = errorBox('login-error');
  const heading = h('h1', null, 'Sign in');
  const hint = h('p', { class: 'hint', hidden: true }, 'Usernames: 3-32 letters, digits, _ - or . · Passwords: at least 8 characters.');
  const toggle = h('a', { href: '#', testid: 'signup-link' }, 'Create an account');
  const question = h('span', null, 'No account yet? ');

  function setMode(up) {
    signingUp = up;
    heading.textContent = up ? 'Create an account' : 'Sign in';
    submit.textContent = up ? 'Create account' : 'Sign in';
    password.autocomplete = up ? 'new-password' : 'current-password';
    hint.hidden = !up;
    question.textContent = up ? 'Already have an account? ' : 'No account yet? ';
    toggle.textContent = up ? 'Sign in' : 'Create an account';
    errors.clear();
  }
  toggle.addEventListener('click', (event) => {
    event.preventDefault();
    setMode(!signingUp);
    username.focus();
  });

  const panel = form({ class: 'login card', 'aria-labelledby': 'login-heading' }, [
    h('div', { class: 'brand big' }, h('img', { src: 'assets/img/logo.svg', alt: '', class: 'logo' }), 'simplechat'),
    heading,
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('label', { class: 'field' }, h('span', { class: 'label' }, 'Username'), username),
    h('label', { class: 'field' }, h('span', { class: 'label' }, 'Password'), password),
    hint,
    errors,
    submit,
    h('p', { class: 'switch' }, question, toggle),
  ], (_, button) =>
    busy(
      button,
      async () => {
        const name = username.value.trim();
        if (signingUp) await api.post('user/', { username: name, password: password.value }, { auth: false });
        await api.logIn(name, password.value); // the session starts: main.js shows the console
      },
      errors,
    ),
  );
  heading.id = 'login-heading';
  replace(root, h('div', { class: 'login-page' }, panel));
  username.focus();
}
