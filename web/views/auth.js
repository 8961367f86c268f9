// Sign in and create account (API.md §2.6); server messages are shown as they come (§2.5).
import { h, replace } from '../dom.js';

export function renderAuth(root, api, { joining, onDone }) {
  let mode = 'login';
  const error = h('p.form-error', { role: 'alert', 'data-testid': 'auth-error' });
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, maxlength: 150, autocapitalize: 'none', spellcheck: 'false' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', maxlength: 254 });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password', minlength: 8, maxlength: 128 });
  const submit = h('button.primary', { type: 'submit' });
  const emailRow = h('label.field', 'Email', email);
  const title = h('h1');
  const switcher = h('button.link', { type: 'button', onclick: () => setMode(mode === 'login' ? 'register' : 'login') });
  const hint = h('p.muted');

  function setMode(m) {
    mode = m;
    const registering = mode === 'register';
    title.textContent = registering ? 'Create your account' : 'Sign in to Parley';
    submit.textContent = registering ? 'Create account' : 'Sign in';
    emailRow.hidden = !registering;
    email.required = registering;
    password.autocomplete = registering ? 'new-password' : 'current-password';
    switcher.textContent = registering ? 'I already have an account' : 'Create an account';
    hint.textContent = registering
      ? 'Letters, digits and @ . + - _ in usernames; passwords of 8 to 128 characters, not all digits.'
      : '';
    error.textContent = '';
  }

  const form = h('form.auth-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      try {
        if (mode === 'register') await api.register(username.value.trim(), email.value.trim(), password.value);
        else await api.login(username.value.trim(), password.value);
        onDone();
      } catch (err) {
        error.textContent = err.message;
        submit.disabled = false;
      }
    },
  },
  title,
  joining ? h('p.notice', 'You were invited to a team. Sign in or create an account to join it.') : null,
  h('label.field', 'Username', username),
  emailRow,
  h('label.field', 'Password', password),
  hint,
  error,
  submit,
  h('p.switch', switcher));

  setMode(joining ? 'register' : 'login');
  replace(root, h('main.auth', h('div.brand', h('img', { src: '/static/icon.svg', alt: '', width: 40, height: 40 }), h('span', 'Parley')), form));
  username.focus();
}
