// Entry point of the built-in web client (API.md §0.1): signs in (or not), then runs the chat.
// `/join-team/<code>` keeps the invitation code until the user is signed in, then offers to join.
import { Api } from './api.js';
import { Store } from './state.js';
import { Chat } from './sync.js';
import { renderAuth } from './views/auth.js';
import { renderShell } from './views/shell.js';

performance.mark('parley:start');

const root = document.getElementById('app');
const api = new Api();
let chat = null;

const joinMatch = location.pathname.match(/^\/join-team\/([A-Za-z0-9]+)\/?$/);
if (joinMatch) sessionStorage.setItem('parley.join', joinMatch[1]);

// Signed out (or the refresh token was refused): start again from a clean page.
api.onLogout = () => {
  if (chat) chat.stop();
  chat = null;
  location.replace('/');
};

function showAuth() {
  const pendingJoin = sessionStorage.getItem('parley.join');
  renderAuth(root, api, { joining: !!pendingJoin, onDone: startChat });
}

async function startChat() {
  const store = new Store(api.user);
  chat = new Chat(api, store);
  const shell = renderShell(root, api, store, chat);
  try {
    await chat.start();
  } catch (e) {
    if (!api.session) return; // signed out meanwhile
    shell.fail(e);
    return;
  }
  shell.ready();
  const code = sessionStorage.getItem('parley.join');
  if (code) {
    sessionStorage.removeItem('parley.join');
    shell.offerJoin(code);
  }
  if (location.pathname !== '/') history.replaceState(null, '', '/');
}

if (api.session) startChat();
else showAuth();
