// The sidebar: team rail, the team's channels and direct messages with unread counts, members
// with presence dots (a click opens the DM, §5 create_or_get_dm_channel), and the signed-in user.
import { h, hue, initial, replace } from '../dom.js';
import { inviteDialog, joinTeamDialog, newChannelDialog, newTeamDialog, confirmDialog } from './dialogs.js';
import { toast } from '../dom.js';
import { icon } from '../icons.js';

function badge(n) {
  return n > 0 ? h('span.badge', { 'data-testid': 'unread' }, n > 99 ? '99+' : String(n)) : null;
}

export class Sidebar {
  constructor(root, api, store, chat, actions) {
    this.root = root;
    this.api = api;
    this.store = store;
    this.chat = chat;
    this.actions = actions;
    this.rail = h('nav.rail', { 'aria-label': 'Teams' });
    this.panel = h('div.panel');
    replace(root, this.rail, this.panel);
    for (const topic of ['teams', 'channels', 'selection', 'unread', 'presence']) {
      store.on(topic, () => this.render());
    }
    this.render();
  }

  render() {
    this.renderRail();
    this.renderPanel();
  }

  renderRail() {
    const s = this.store;
    const teams = [...s.teams.values()].sort((a, b) => a.id - b.id);
    replace(this.rail,
      teams.map((t) => {
        const b = h('button.team-button', {
          type: 'button', title: t.name, 'aria-label': t.name, 'data-testid': 'team', 'data-team-id': t.id,
          'aria-current': t.id === s.teamId ? 'true' : null,
          onclick: () => this.actions.selectTeam(t.id),
        }, initial(t.name), badge(s.teamUnread(t.id)));
        b.style.setProperty('--hue', hue(t.id));
        return b;
      }),
      h('button.team-button.add', {
        type: 'button', title: 'Create a team', 'aria-label': 'Create a team', 'data-testid': 'new-team',
        onclick: () => newTeamDialog(this.api, this.actions.afterJoin),
      }, icon('plus')),
      h('button.team-button.add', {
        type: 'button', title: 'Join a team with an invitation', 'aria-label': 'Join a team', 'data-testid': 'join-team',
        onclick: () => joinTeamDialog(this.api, this.actions.afterJoin),
      }, icon('join')));
  }

  renderPanel() {
    const s = this.store;
    const team = s.teams.get(s.teamId);
    const me = h('div.me', h('span.avatar.small', initial(s.me.username)), h('span.me-name', s.me.username),
      h('button.link', { type: 'button', 'data-testid': 'sign-out', onclick: () => this.actions.signOut() }, 'Sign out'));
    me.querySelector('.avatar').style.setProperty('--hue', hue(s.me.id));
    if (!team) {
      replace(this.panel, h('div.team-head', h('strong', 'No team yet')), h('div.grow'), me);
      return;
    }
    const channels = s.teamChannels(team.id);
    const groups = channels.filter((c) => !c.is_direct_message);
    const dms = channels.filter((c) => c.is_direct_message);
    const isOwner = team.created_by === s.me.id;

    const item = (c) => {
      const peer = c.is_direct_message ? s.dmPeer(c) : null;
      const unread = s.unread(c.id);
      return h('li', h('button.channel', {
        type: 'button',
        class: `${unread ? 'has-unread' : ''}`,
        'data-testid': c.is_direct_message ? 'dm' : 'channel',
        'data-channel-id': c.id,
        'aria-current': c.id === s.channelId ? 'page' : null,
        onclick: () => this.actions.selectChannel(team.id, c.id),
      },
      peer ? this.dot(peer.id) : h('span.hash', '#'),
      h('span.name', s.channelLabel(c)),
      badge(unread)));
    };

    const members = [...team.members].sort((a, b) => a.username.localeCompare(b.username));
    replace(this.panel,
      h('div.team-head',
        h('strong.team-name', { 'data-testid': 'team-name' }, team.name),
        h('button.small', { type: 'button', 'data-testid': 'invite', onclick: () => inviteDialog(this.api, team, s.me) }, 'Invite')),
      h('div.scroll',
        h('div.section-head', h('span', 'Channels'),
          h('button.icon', {
            type: 'button', 'aria-label': 'Create a channel', title: 'Create a channel', 'data-testid': 'new-channel',
            onclick: () => newChannelDialog(this.api, team, (ch) => {
              s.putChannel(ch);
              this.chat.loadLatest(ch.id);
              this.actions.selectChannel(team.id, ch.id);
            }),
          }, icon('plus'))),
        h('ul.list', groups.map(item)),
        h('div.section-head', h('span', 'Direct messages')),
        dms.length ? h('ul.list', dms.map(item)) : h('p.muted.pad', 'Pick a member below to start one.'),
        h('div.section-head', h('span', `Members · ${members.length}`)),
        h('ul.list.members', members.map((m) => h('li', h('button.member', {
          type: 'button',
          'data-testid': 'member',
          'data-user-id': m.id,
          disabled: m.id === s.me.id,
          title: m.id === s.me.id ? 'You' : `Message ${m.username}`,
          onclick: () => this.actions.openDm(team.id, m.id),
        }, this.dot(m.id), h('span.name', m.username),
        m.id === team.created_by ? h('span.tag', 'owner') : null,
        m.id === s.me.id ? h('span.tag', 'you') : null)))),
        isOwner ? null : h('button.link.leave', {
          type: 'button',
          onclick: async () => {
            if (!(await confirmDialog('Leave team', `Leave ${team.name}? You can come back with an invitation.`, 'Leave'))) return;
            try {
              await this.api.leaveTeam(team.id);
              s.removeTeam(team.id);
            } catch (e) {
              toast(e.message, 'error');
            }
          },
        }, 'Leave team')),
      me);
  }

  dot(userId) {
    const online = this.store.presence.get(userId) === 'online';
    return h('span.dot', {
      class: online ? 'online' : 'offline',
      title: online ? 'Online' : 'Offline',
      'aria-label': online ? 'online' : 'offline',
      'data-presence': online ? 'online' : 'offline',
    });
  }
}
