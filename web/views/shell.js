// The signed-in layout: sidebar (teams, channels, DMs, members), the open channel's header,
// messages and composer; the connection state; keyboard shortcuts; the join-by-link offer.
import { h, replace, toast } from '../dom.js';
import { Composer } from './composer.js';
import { confirmDialog, joinTeamDialog, newTeamDialog } from './dialogs.js';
import { MessageList } from './messages.js';
import { Sidebar } from './sidebar.js';
import { icon } from '../icons.js';

export function renderShell(root, api, store, chat) {
  const title = h('h2.channel-title', { 'data-testid': 'channel-title' });
  const topic = h('span.channel-topic');
  const conn = h('button.conn', { type: 'button', 'data-testid': 'conn', 'aria-live': 'polite', onclick: () => chat.socket.retryNow() });
  const menu = h('button.icon.menu', { type: 'button', 'aria-label': 'Channels and teams', onclick: () => toggleDrawer() }, icon('menu'));
  const topbar = h('header.topbar', menu, h('div.channel-head', title, topic), conn);
  const messagesRoot = h('section.messages', { role: 'log', 'aria-label': 'Messages', 'data-testid': 'messages' });
  const typing = h('div.typing', { 'aria-live': 'polite', 'data-testid': 'typing' });
  const composerRoot = h('div.composer-slot');
  const main = h('main.main', topbar, messagesRoot, typing, composerRoot);
  const sidebarRoot = h('aside.sidebar', { 'aria-label': 'Teams and channels' });
  const scrim = h('div.scrim', { onclick: () => toggleDrawer(false) });
  const shell = h('div.shell', sidebarRoot, scrim, main);
  replace(root, shell);

  const actions = {
    selectChannel: (teamId, channelId) => {
      chat.selectChannel(teamId, channelId);
      toggleDrawer(false);
      composer.focus();
    },
    openDm: async (teamId, userId) => {
      try {
        await chat.openDm(teamId, userId);
        toggleDrawer(false);
        composer.focus();
      } catch (e) {
        toast(e.message, 'error');
      }
    },
    afterJoin: async (team, created = false) => {
      // The server subscribes open sockets to teams they join, not (yet) to teams they create:
      // a fresh socket is subscribed to all of them.
      if (created) chat.socket.cycle();
      await chat.reloadTeams();
      await chat.reloadChannels();
      chat.loadMissing();
      selectTeam(team.id);
    },
    selectTeam: (teamId) => selectTeam(teamId),
    reply: (msg) => composer.replyTo(msg),
    editLast: () => messages.editLastOwn(),
    signOut: () => api.logout(),
  };

  const sidebar = new Sidebar(sidebarRoot, api, store, chat, actions);
  const messages = new MessageList(messagesRoot, api, store, chat, actions);
  const composer = new Composer(composerRoot, api, store, chat, actions);

  function toggleDrawer(open) {
    shell.classList.toggle('drawer-open', open ?? !shell.classList.contains('drawer-open'));
  }

  function selectTeam(teamId) {
    const chans = store.teamChannels(teamId);
    const first = chans.find((c) => !c.is_direct_message) || chans[0];
    chat.selectChannel(teamId, first ? first.id : null);
  }

  // The channel header, the document title and the empty states.
  function renderHeader() {
    const ch = store.channels.get(store.channelId);
    if (!ch) {
      title.textContent = store.teams.size ? 'No channel' : 'Welcome to Parley';
      topic.textContent = '';
      document.title = 'Parley';
      return;
    }
    title.textContent = ch.is_direct_message ? `@${store.channelLabel(ch)}` : `# ${ch.name}`;
    topic.textContent = ch.is_direct_message ? 'Direct message' : ch.description || `${ch.members.length} members`;
    let total = 0;
    for (const c of store.channels.values()) total += store.unread(c.id);
    document.title = `${total ? `(${total}) ` : ''}${store.channelLabel(ch)} · Parley`;
  }

  function renderConn() {
    const { state, detail } = store.conn;
    conn.dataset.state = state;
    document.body.dataset.conn = state;
    if (state === 'online') conn.textContent = 'Connected';
    else if (state === 'connecting') conn.textContent = 'Connecting…';
    else if (state === 'offline') {
      const secs = detail && detail.retryAt ? Math.max(0, Math.ceil((detail.retryAt - Date.now()) / 1000)) : 0;
      conn.textContent = secs > 0 ? `Offline · retrying in ${secs} s` : 'Offline · retrying';
    } else conn.textContent = 'Disconnected';
    conn.title = state === 'offline' ? 'Click to retry now' : '';
  }
  setInterval(() => store.conn.state === 'offline' && renderConn(), 1000);

  function renderTyping() {
    const names = store.typingIn(store.channelId).filter(Boolean);
    typing.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
  }
  setInterval(renderTyping, 1000);

  // Keeps the selection valid when teams or channels go away.
  function ensureSelection() {
    if (store.channelId && store.channels.has(store.channelId)) return;
    if (store.teamId && store.teams.has(store.teamId)) return selectTeam(store.teamId);
    const first = [...store.teams.keys()].sort((a, b) => a - b)[0];
    if (first) selectTeam(first);
    else if (store.teamId !== null || store.channelId !== null) chat.selectChannel(null, null);
  }

  store.on('selection', () => {
    renderHeader();
    renderTyping();
  });
  store.on('channels', () => {
    renderHeader();
    if (isReady) ensureSelection();
  });
  store.on('teams', () => isReady && ensureSelection());
  store.on('unread', renderHeader);
  store.on('conn', renderConn);
  store.on('typing', renderTyping);
  renderConn();

  // Alt+↑/↓ moves between the channels of the team; Escape closes the drawer.
  addEventListener('keydown', (e) => {
    if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const list = store.teamChannels(store.teamId);
      const i = list.findIndex((c) => c.id === store.channelId);
      const next = list[(i + (e.key === 'ArrowUp' ? -1 : 1) + list.length) % list.length];
      if (next) {
        e.preventDefault();
        actions.selectChannel(store.teamId, next.id);
      }
    } else if (e.key === 'Escape' && shell.classList.contains('drawer-open')) {
      toggleDrawer(false);
    }
  });
  addEventListener('focus', () => store.channelId && store.markRead(store.channelId));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && store.channelId) store.markRead(store.channelId);
  });

  let isReady = false;
  return {
    ready() {
      isReady = true;
      const last = store.lastSelection();
      if (last.channelId && store.channels.has(last.channelId)) chat.selectChannel(last.teamId, last.channelId);
      else if (last.teamId && store.teams.has(last.teamId)) selectTeam(last.teamId);
      else ensureSelection();
      if (!store.teams.size) {
        messages.showWelcome({
          newTeam: () => newTeamDialog(api, actions.afterJoin),
          joinTeam: () => joinTeamDialog(api, actions.afterJoin),
        });
      }
      composer.focus();
    },
    fail(e) {
      replace(messagesRoot, h('div.empty', h('p', `Could not load your teams: ${e.message}`),
        h('button.primary', { type: 'button', onclick: () => location.reload() }, 'Try again')));
    },
    async offerJoin(code) {
      const ok = await confirmDialog('Join a team', 'You were invited to join a team on Parley.', 'Join team');
      if (!ok) return;
      try {
        const team = await api.joinTeam(code);
        await actions.afterJoin(team);
        toast(`You joined ${team.name}.`);
      } catch (e) {
        if (e.code === 'already_member') toast('You are already a member of this team.');
        else toast(e.message, 'error');
      }
    },
  };
}
