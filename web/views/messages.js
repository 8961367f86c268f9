// The open channel's messages: a keyed list (an element is rebuilt only when its message
// changes), day separators, infinite scroll to older pages, pending sends from the outbox, and
// per-message actions: reply, react, edit, delete, pin, forward.
import { dayOf, fileSize, fullTime, h, hue, initial, linkify, replace, safeUrl, timeOf, toast } from '../dom.js';
import { confirmDialog, forwardDialog } from './dialogs.js';
import { icon } from '../icons.js';

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];
const GROUP_WINDOW_MS = 5 * 60 * 1000;
let firstMessageMarked = false;

export class MessageList {
  constructor(root, api, store, chat, actions) {
    this.root = root;
    this.api = api;
    this.store = store;
    this.chat = chat;
    this.actions = actions;
    this.channelId = null;
    this.items = new Map(); // key → {el, sig}
    this.editingId = null;
    this.unsubscribe = null;
    this.stick = true; // scroll to the bottom at the next render
    this.top = h('div.history-top', { 'data-testid': 'history-top' });
    this.list = h('div.list');
    this.jump = h('button.jump', { type: 'button', hidden: true, onclick: () => this.scrollToBottom() }, 'New messages ↓');
    this.pinned = h('div.pinned-bar', { hidden: true, 'data-testid': 'pinned' });
    replace(root, this.pinned, this.top, this.list, this.jump);
    root.addEventListener('scroll', () => this.onScroll(), { passive: true });
    store.on('selection', () => this.show(store.channelId));
    store.on('outbox', () => this.render());
  }

  showWelcome({ newTeam, joinTeam }) {
    replace(this.list, h('div.empty.welcome',
      h('h3', 'Welcome to Parley'),
      h('p', 'Create a team for your group, or join one with an invitation link.'),
      h('div.buttons',
        h('button.primary', { type: 'button', onclick: newTeam }, 'Create a team'),
        h('button', { type: 'button', onclick: joinTeam }, 'Join a team'))));
    this.items.clear();
  }

  show(channelId) {
    if (channelId === this.channelId) return;
    if (this.unsubscribe) this.unsubscribe();
    this.channelId = channelId;
    this.editingId = null;
    this.items.clear();
    replace(this.list);
    if (!channelId) return;
    this.unsubscribe = this.store.on(`messages:${channelId}`, () => this.render());
    this.stick = true;
    this.render();
  }

  atBottom() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 80;
  }

  scrollToBottom() {
    this.root.scrollTop = this.root.scrollHeight;
    this.jump.hidden = true;
  }

  onScroll() {
    if (this.atBottom()) this.jump.hidden = true;
    if (this.root.scrollTop < 300) this.loadOlder();
  }

  async loadOlder() {
    const id = this.channelId;
    const c = id && this.store.chans.get(id);
    if (!c || !c.hasOlder || c.loadingOlder) return;
    // Keep the view still while older messages are inserted above.
    const fromBottom = this.root.scrollHeight - this.root.scrollTop;
    this.top.textContent = 'Loading older messages…';
    try {
      await this.chat.loadOlder(id);
    } catch (e) {
      toast(e.message, 'error');
    }
    if (id !== this.channelId) return;
    this.render();
    this.root.scrollTop = this.root.scrollHeight - fromBottom;
  }

  // Rebuilds the list in order, reusing the elements of unchanged messages.
  render() {
    const id = this.channelId;
    if (!id) return;
    const c = this.store.chans.get(id);
    const channel = this.store.channels.get(id);
    const wasAtBottom = this.stick || this.atBottom();
    this.stick = false;

    const rows = [];
    let prev = null;
    for (const m of this.store.sortedMessages(id)) {
      const day = dayOf(m.createdAt);
      if (!prev || dayOf(prev.createdAt) !== day) rows.push({ key: `day:${day}`, sig: day, build: () => h('div.day', h('span', day)) });
      const compact = !!prev && prev.senderId === m.senderId && !m.replyTo && !m.isForwarded &&
        dayOf(prev.createdAt) === day && new Date(m.createdAt) - new Date(prev.createdAt) < GROUP_WINDOW_MS;
      const editing = this.editingId === m.id;
      rows.push({ key: `m:${m.id}`, sig: m, compact, editing, build: () => this.message(m, compact, editing) });
      prev = m;
    }
    for (const o of this.store.outbox) {
      if (o.channelId !== id) continue;
      rows.push({ key: `o:${o.requestId}`, sig: `${o.status}:${o.error}`, build: () => this.pendingMessage(o) });
    }

    // Empty states and the welcome are not items: they go first.
    const known = new Set([...this.items.values()].map((i) => i.el));
    for (const child of [...this.list.children]) if (!known.has(child)) child.remove();

    const seen = new Set();
    let cursor = this.list.firstChild;
    for (const row of rows) {
      seen.add(row.key);
      let item = this.items.get(row.key);
      if (!item || item.sig !== row.sig || item.compact !== row.compact || item.editing !== row.editing) {
        const el = row.build();
        if (item) {
          if (cursor === item.el) cursor = el;
          item.el.replaceWith(el);
        }
        item = { el, sig: row.sig, compact: row.compact, editing: row.editing };
        this.items.set(row.key, item);
      }
      if (item.el !== cursor) this.list.insertBefore(item.el, cursor);
      else cursor = cursor.nextSibling;
    }
    for (const [key, item] of this.items) {
      if (!seen.has(key)) {
        item.el.remove();
        this.items.delete(key);
      }
    }

    if (!rows.length) {
      const loading = !c || !c.loaded;
      this.list.append(h('div.empty', loading ? 'Loading messages…'
        : channel && channel.is_direct_message ? `This is the beginning of your conversation with ${this.store.channelLabel(channel)}.`
          : `This is the beginning of #${channel ? channel.name : ''}.`));
    } else if (!firstMessageMarked && this.list.querySelector('.msg[data-id]')) {
      firstMessageMarked = true;
      performance.mark('parley:first-message');
    }

    this.top.textContent = c && c.hasOlder ? (c.loadingOlder ? 'Loading older messages…' : '') : (c && c.loaded && rows.length ? 'Start of the conversation' : '');
    this.renderPinned();

    if (wasAtBottom) this.scrollToBottom();
    else if (rows.length) this.jump.hidden = false;
    // A short first page does not fill the screen: fetch more until it scrolls.
    if (c && c.hasOlder && this.root.scrollHeight <= this.root.clientHeight + 50) this.loadOlder();
    if (id === this.store.channelId && document.visibilityState === 'visible') this.store.markRead(id);
  }

  renderPinned() {
    const pinned = this.store.sortedMessages(this.channelId).find((m) => m.isPinned);
    this.pinned.hidden = !pinned;
    if (pinned) {
      replace(this.pinned, h('span.pin-icon', icon('pin')), h('span.pinned-text', `${pinned.sender}: ${pinned.content || '(attachment)'}`),
        h('button.link', { type: 'button', onclick: () => this.focusMessage(pinned.id) }, 'Show'));
    }
  }

  focusMessage(id) {
    const el = this.list.querySelector(`.msg[data-id="${id}"]`);
    if (el) {
      el.scrollIntoView({ block: 'center' });
      el.focus();
    }
  }

  // ---- one message

  message(m, compact, editing) {
    const mine = m.senderId === this.store.me.id;
    const el = h('article.msg', {
      tabindex: '0',
      class: [compact ? 'compact' : '', mine ? 'mine' : '', m.isPinned ? 'pinned' : ''].filter(Boolean).join(' ') || null,
      'data-id': m.id,
      'data-testid': 'message',
      'aria-label': `${m.sender} at ${timeOf(m.createdAt)}`,
      onkeydown: (e) => this.onKey(e, m),
    });
    const avatar = h('div.avatar', { 'aria-hidden': 'true' }, compact ? '' : initial(m.sender));
    avatar.style.setProperty('--hue', hue(m.senderId));
    const body = h('div.body');
    if (!compact) {
      body.append(h('div.meta',
        h('span.sender', m.sender),
        h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, timeOf(m.createdAt))));
    }
    if (m.isForwarded) body.append(h('div.forwarded', '↪ Forwarded'));
    if (m.replyTo) {
      const parent = this.store.findMessage(m.channelId, m.replyTo);
      const text = m.replied ?? (parent ? parent.content : null);
      body.append(h('button.reply-quote', {
        type: 'button', onclick: () => this.focusMessage(m.replyTo),
      }, parent ? h('strong', parent.sender) : null, ' ', text === null ? 'an earlier message' : text || '(attachment)'));
    }
    if (editing) body.append(this.editor(m));
    else if (m.content) {
      body.append(h('div.content', { 'data-testid': 'content' }, linkify(m.content),
        m.isEdited ? h('span.edited', { title: `Edited ${fullTime(m.editedAt)}` }, ' (edited)') : null));
    }
    if (m.attachments.length) body.append(this.attachments(m.attachments));
    if (m.linkPreview) body.append(previewCard(m.linkPreview));
    const reactions = this.reactions(m);
    if (reactions) body.append(reactions);
    if (m.isPinned) body.append(h('div.pinned-tag', icon('pin'), 'Pinned'));
    el.append(avatar, body, this.toolbar(m, mine));
    return el;
  }

  attachments(list) {
    return h('div.attachments', list.map((a) => {
      const url = safeUrl(a.url);
      if ((a.content_type || '').startsWith('image/') && url) {
        const img = h('img', { src: url, alt: a.filename, loading: 'lazy', 'data-testid': 'attachment-image' });
        // Signed URLs expire (§7.3): fall back to the authenticated download.
        img.addEventListener('error', async () => {
          if (img.dataset.retried) return;
          img.dataset.retried = '1';
          try {
            img.src = await this.api.downloadUrl(a.id);
          } catch {
            img.alt = `${a.filename} (unavailable)`;
          }
        });
        return h('a.image', { href: url, target: '_blank', rel: 'noopener' }, img);
      }
      return h('button.file', {
        type: 'button',
        onclick: async () => {
          try {
            const href = await this.api.downloadUrl(a.id);
            const link = h('a', { href, download: a.filename });
            document.body.append(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(href), 10000);
          } catch (e) {
            toast(e.message, 'error');
          }
        },
      }, h('span.file-icon', icon('file')), h('span', a.filename), h('span.muted', fileSize(a.size)));
    }));
  }

  // Chips grouped by reaction; a click sets that reaction, or removes it when it is yours.
  reactions(m) {
    const groups = new Map();
    for (const [user, r] of Object.entries(m.reactions)) {
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r).push(user);
    }
    if (!groups.size) return null;
    const mine = m.reactions[this.store.me.username];
    return h('div.reactions', [...groups].map(([r, users]) => h('button.chip', {
      type: 'button',
      class: r === mine ? 'mine' : null,
      title: users.join(', '),
      'data-testid': 'reaction',
      'aria-pressed': r === mine ? 'true' : 'false',
      onclick: () => this.run(this.chat.react(m.id, r === mine ? null : r)),
    }, `${r} ${users.length}`)));
  }

  toolbar(m, mine) {
    const channel = this.store.channels.get(m.channelId);
    const team = channel && this.store.teams.get(channel.team);
    const canDelete = mine || (team && team.created_by === this.store.me.id && !channel.is_direct_message);
    const button = (label, testid, icon, onclick) => h('button.icon', { type: 'button', title: label, 'aria-label': label, 'data-testid': testid, onclick }, icon);
    const picker = h('div.picker', { hidden: true, role: 'menu' }, QUICK_REACTIONS.map((r) => h('button', {
      type: 'button', role: 'menuitem', 'data-testid': 'pick-reaction', onclick: () => {
        picker.hidden = true;
        this.run(this.chat.react(m.id, r));
      },
    }, r)));
    return h('div.toolbar',
      button('React', 'react', icon('smile'), () => {
        picker.hidden = !picker.hidden;
        if (!picker.hidden) picker.querySelector('button').focus();
      }),
      picker,
      button('Reply', 'reply', icon('reply'), () => this.actions.reply(m)),
      mine ? button('Edit', 'edit', icon('edit'), () => this.startEdit(m.id)) : null,
      button(m.isPinned ? 'Unpin' : 'Pin', 'pin', icon('pin'), () => this.run(this.chat.pin(m.id, !m.isPinned))),
      channel ? button('Forward', 'forward', icon('forward'), () => forwardDialog(this.store, channel.team, m, (ids, content) => this.chat.forward(ids, content))) : null,
      canDelete ? button('Delete', 'delete', icon('trash'), async () => {
        if (await confirmDialog('Delete message', 'Delete this message for everyone?', 'Delete')) this.run(this.chat.remove(m.id));
      }) : null);
  }

  // Keyboard on a focused message: r reply, e edit, Delete delete.
  onKey(e, m) {
    if (e.target !== e.currentTarget) return;
    if (e.key === 'r') {
      e.preventDefault();
      this.actions.reply(m);
    } else if (e.key === 'e' && m.senderId === this.store.me.id) {
      e.preventDefault();
      this.startEdit(m.id);
    } else if (e.key === 'Delete') {
      e.currentTarget.querySelector('[data-testid="delete"]')?.click();
    }
  }

  startEdit(id) {
    this.editingId = id;
    this.render();
    const area = this.list.querySelector(`.msg[data-id="${id}"] textarea`);
    if (area) {
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
    }
  }

  editLastOwn() {
    const own = this.store.sortedMessages(this.channelId).filter((m) => m.senderId === this.store.me.id);
    if (own.length) this.startEdit(own[own.length - 1].id);
  }

  editor(m) {
    const area = h('textarea.edit', { rows: 2, 'aria-label': 'Edit message', 'data-testid': 'edit-input' });
    area.value = m.content;
    const stop = () => {
      this.editingId = null;
      this.render();
    };
    const save = async () => {
      const content = area.value;
      if (!content.trim()) return toast('A message cannot be empty; delete it instead.', 'error');
      if (content !== m.content) {
        try {
          await this.chat.edit(m.id, content);
        } catch (e) {
          return toast(e.message, 'error');
        }
      }
      stop();
      return undefined;
    };
    area.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        save();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        stop();
      }
    });
    return h('div.editor', area, h('div.edit-hint', 'Enter to save · Esc to cancel ',
      h('button.link', { type: 'button', onclick: save }, 'Save'), ' ',
      h('button.link', { type: 'button', onclick: stop }, 'Cancel')));
  }

  pendingMessage(o) {
    const status = o.status === 'failed' ? `Not sent: ${o.error}`
      : o.status === 'queued' ? 'Waiting for the connection…' : 'Sending…';
    const avatar = h('div.avatar', initial(this.store.me.username));
    avatar.style.setProperty('--hue', hue(this.store.me.id));
    return h('article.msg.pending', { 'data-request-id': o.requestId, 'data-testid': 'pending', class: o.status === 'failed' ? 'failed' : null },
      avatar,
      h('div.body',
        h('div.meta', h('span.sender', this.store.me.username), h('span.status', status)),
        o.content ? h('div.content', linkify(o.content)) : null,
        o.attachments.length ? h('div.attachments', o.attachments.map((a) => h('span.file', a.filename))) : null,
        o.status === 'failed' ? h('div.buttons',
          h('button.small', { type: 'button', onclick: () => this.chat.retry(o) }, 'Retry'),
          h('button.small', { type: 'button', onclick: () => this.chat.discard(o) }, 'Discard')) : null));
  }

  run(promise) {
    promise.catch((e) => toast(e.message, 'error'));
  }
}

export function previewCard(p) {
  const url = safeUrl(p.url);
  const image = safeUrl(p.image);
  return h('a.preview-card', { href: url || '#', target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'link-preview' },
    image ? h('img', { src: image, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' }) : null,
    h('div',
      h('div.site', p.site_name || ''),
      p.title ? h('div.title', p.title) : null,
      p.description ? h('div.description', p.description) : null));
}
