// The client's state: teams, channels, per-channel messages and stream positions, presence,
// typing, unread counts and the outbox of unacknowledged sends. Views subscribe to topics
// ('teams', 'channels', 'messages:<id>', 'conn', 'presence', 'typing', 'unread', 'selection',
// 'outbox'); notifications are batched once per microtask.

// One message in the shape the views use, from a WebSocket message (§1.5, §8.6).
export function fromWs(m) {
  return {
    id: m.id,
    channelId: m.channel_id,
    senderId: m.sender_id,
    sender: m.sender,
    content: m.content,
    createdAt: m.timestamp,
    replyTo: m.reply_to ?? null,
    replied: m.replied_message ?? null,
    linkPreview: m.link_preview ?? null,
    attachments: m.attachments || [],
    reactions: m.reactions || {},
    isForwarded: !!m.is_forwarded,
    isPinned: !!m.is_pinned,
    isEdited: !!m.is_edited,
    editedAt: m.edited_at ?? null,
  };
}

// The same from a REST message (§1.5): sender object, created_at, channel id.
export function fromRest(m) {
  return {
    id: m.id,
    channelId: m.channel,
    senderId: m.sender_id,
    sender: m.sender ? m.sender.username : '?',
    content: m.content,
    createdAt: m.created_at,
    replyTo: m.reply_to ?? null,
    replied: null,
    linkPreview: m.link_preview ?? null,
    attachments: m.attachments || [],
    reactions: m.reactions || {},
    isForwarded: !!m.is_forwarded,
    isPinned: !!m.is_pinned,
    isEdited: !!m.is_edited,
    editedAt: m.edited_at ?? null,
  };
}

function newChannelState() {
  return {
    messages: new Map(), // id → message (replaced, never mutated, on change)
    pos: null, // {offset, epoch}: the stream position the messages reflect (§8.8)
    loading: false, // a history request is in flight: stream frames wait in `buffer`
    buffer: [],
    loaded: false,
    olderPath: null, // REST path of the next older page, or null
    hasOlder: false,
    loadingOlder: false,
    unread: 0,
  };
}

export class Store {
  constructor(me) {
    this.me = me;
    this.conn = { state: 'connecting', detail: null };
    this.teams = new Map();
    this.channels = new Map();
    this.chans = new Map();
    this.presence = new Map(); // user id → 'online' | 'offline'
    this.typing = new Map(); // channel id → Map(user id → {username, until})
    this.outbox = []; // {requestId, channelId, content, replyTo, fileIds, attachments, linkPreview, status, messageId, error}
    this.teamId = null;
    this.channelId = null;
    this.listeners = new Map();
    this.dirty = new Set();
    this.readKey = `parley.read.${me.id}`;
    try {
      this.read = JSON.parse(localStorage.getItem(this.readKey)) || {};
    } catch {
      this.read = {};
    }
    // On a device that has never read anything, what exists at start-up counts as read (unread
    // counts are kept per device); set by Chat.start() to the channels known then.
    this.freshDevice = localStorage.getItem(this.readKey) === null;
    this.baseline = new Set();
  }

  // ---- subscriptions

  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
    this.listeners.get(topic).add(fn);
    return () => this.listeners.get(topic).delete(fn);
  }

  emit(...topics) {
    const first = this.dirty.size === 0;
    for (const t of topics) this.dirty.add(t);
    if (!first) return;
    queueMicrotask(() => {
      const topics = [...this.dirty];
      this.dirty.clear();
      for (const t of topics) for (const fn of this.listeners.get(t) || []) fn(t);
    });
  }

  // ---- teams and channels

  setTeams(list) {
    this.teams = new Map(list.map((t) => [t.id, t]));
    this.emit('teams');
  }

  putTeam(team) {
    this.teams.set(team.id, team);
    this.emit('teams');
  }

  removeTeam(teamId) {
    this.teams.delete(teamId);
    for (const c of [...this.channels.values()]) if (c.team === teamId) this.removeChannel(c.id);
    this.emit('teams');
  }

  setChannels(list) {
    const ids = new Set(list.map((c) => c.id));
    for (const id of [...this.channels.keys()]) if (!ids.has(id)) this.removeChannel(id);
    for (const c of list) this.channels.set(c.id, c);
    this.emit('channels');
  }

  putChannel(channel) {
    this.channels.set(channel.id, channel);
    this.emit('channels');
  }

  removeChannel(id) {
    this.channels.delete(id);
    this.chans.delete(id);
    this.outbox = this.outbox.filter((o) => o.channelId !== id);
    this.emit('channels', 'unread', `messages:${id}`);
  }

  teamChannels(teamId) {
    return [...this.channels.values()].filter((c) => c.team === teamId).sort((a, b) => a.id - b.id);
  }

  // The other participant of a DM channel.
  dmPeer(channel) {
    return (channel.members || []).find((m) => m.id !== this.me.id) || channel.members?.[0] || null;
  }

  channelLabel(channel) {
    if (!channel) return '';
    if (channel.is_direct_message) {
      const peer = this.dmPeer(channel);
      return peer ? peer.username : channel.name;
    }
    return channel.name;
  }

  select(teamId, channelId) {
    if (teamId === this.teamId && channelId === this.channelId) return;
    this.teamId = teamId;
    this.channelId = channelId;
    localStorage.setItem(`parley.last.${this.me.id}`, JSON.stringify({ teamId, channelId }));
    this.emit('selection');
  }

  lastSelection() {
    try {
      return JSON.parse(localStorage.getItem(`parley.last.${this.me.id}`)) || {};
    } catch {
      return {};
    }
  }

  // ---- messages

  chan(id) {
    let c = this.chans.get(id);
    if (!c) {
      c = newChannelState();
      this.chans.set(id, c);
    }
    return c;
  }

  sortedMessages(channelId) {
    const c = this.chans.get(channelId);
    if (!c) return [];
    return [...c.messages.values()].sort((a, b) => a.id - b.id);
  }

  // Adds or replaces a message; returns true when it was new.
  putMessage(msg) {
    const c = this.chan(msg.channelId);
    const isNew = !c.messages.has(msg.id);
    const old = c.messages.get(msg.id);
    // REST pages lack replied_message: keep what the WebSocket told us.
    if (old && msg.replied === null && old.replied) msg = { ...msg, replied: old.replied };
    c.messages.set(msg.id, msg);
    if (msg.isPinned) this.unpinOthers(msg.channelId, msg.id);
    // A confirmed send replaces its placeholder.
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((o) => o.messageId !== msg.id);
    if (this.outbox.length !== before) this.emit('outbox');
    this.emit(`messages:${msg.channelId}`);
    return isNew;
  }

  patchMessage(channelId, id, patch) {
    const c = this.chans.get(channelId);
    const old = c && c.messages.get(id);
    if (!old) return false;
    c.messages.set(id, { ...old, ...patch });
    if (patch.isPinned) this.unpinOthers(channelId, id);
    this.emit(`messages:${channelId}`);
    return true;
  }

  unpinOthers(channelId, keepId) {
    const c = this.chans.get(channelId);
    for (const [id, m] of c.messages) {
      if (id !== keepId && m.isPinned) c.messages.set(id, { ...m, isPinned: false });
    }
  }

  removeMessage(channelId, id) {
    const c = this.chans.get(channelId);
    if (c && c.messages.delete(id)) this.emit(`messages:${channelId}`);
  }

  findMessage(channelId, id) {
    const c = this.chans.get(channelId);
    return c ? c.messages.get(id) || null : null;
  }

  // ---- unread (client-side: the newest id read per channel, kept in localStorage)

  lastRead(channelId) {
    return this.read[channelId] || 0;
  }

  markRead(channelId) {
    const c = this.chans.get(channelId);
    if (!c) return;
    let newest = this.lastRead(channelId);
    for (const id of c.messages.keys()) if (id > newest) newest = id;
    const changed = newest !== this.read[channelId] || c.unread !== 0;
    this.read[channelId] = newest;
    c.unread = 0;
    if (changed) {
      localStorage.setItem(this.readKey, JSON.stringify(this.read));
      this.emit('unread');
    }
  }

  // Recounts a channel's unread messages from what is loaded (after a history load).
  recount(channelId) {
    const c = this.chan(channelId);
    if (this.baseline.delete(channelId) && this.read[channelId] === undefined) {
      this.markRead(channelId);
      return;
    }
    const last = this.lastRead(channelId);
    let n = 0;
    for (const m of c.messages.values()) if (m.id > last && m.senderId !== this.me.id) n += 1;
    c.unread = n;
    this.emit('unread');
  }

  bumpUnread(channelId) {
    this.chan(channelId).unread += 1;
    this.emit('unread');
  }

  unread(channelId) {
    const c = this.chans.get(channelId);
    return c ? c.unread : 0;
  }

  teamUnread(teamId) {
    let n = 0;
    for (const ch of this.channels.values()) if (ch.team === teamId) n += this.unread(ch.id);
    return n;
  }

  // ---- presence and typing

  setPresence(userId, status) {
    this.presence.set(userId, status);
    this.emit('presence');
  }

  setTyping(channelId, userId, username, isTyping) {
    if (!this.typing.has(channelId)) this.typing.set(channelId, new Map());
    const m = this.typing.get(channelId);
    if (isTyping) m.set(userId, { username, until: Date.now() + 6000 }); // §8.10: 6 s expiry
    else m.delete(userId);
    this.emit('typing');
  }

  typingIn(channelId) {
    const m = this.typing.get(channelId);
    if (!m) return [];
    const now = Date.now();
    for (const [id, t] of m) if (t.until < now) m.delete(id);
    return [...m.values()].map((t) => t.username);
  }

  // ---- connection

  setConn(state, detail = null) {
    this.conn = { state, detail };
    this.emit('conn');
  }
}
