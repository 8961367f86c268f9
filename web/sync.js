// Keeps the Store in step with the server: initial loads, live frames applied in stream order,
// resume after a reconnect (§8.8), resyncs, team-level events, and the outbox of sends that
// survive a dropped connection (retried with the same request_id, which the server dedupes).
import { Disconnected, Socket } from './ws.js';
import { fromRest, fromWs } from './state.js';

const PAGE = 50;
// Frames that belong to a channel's stream and carry offset/epoch (§8.5 "S").
const STREAM_TYPES = new Set(['channels', 'direct', 'message_edited', 'message_deleted',
  'reaction_update', 'message_pinned', 'message_unpinned', 'channel_updated', 'channel_deleted']);

export class Chat {
  constructor(api, store) {
    this.api = api;
    this.store = store;
    this.resuming = new Set(); // channels named in a resume still unanswered
    this.reloadTimer = null;
    this.socket = new Socket((reason) => this.token(reason), {
      onState: (state, detail) => store.setConn(state, detail),
      onHello: (hello, reconnect) => this.onHello(hello, reconnect),
      onFrame: (frame) => this.onFrame(frame),
      onAuthFailed: (revoked) => this.onAuthFailed(revoked),
    });
    this.ready = null;
    this.typingSent = 0;
  }

  async token(reason) {
    // After a refused upgrade the access token may be revoked rather than expired: a REST call
    // finds out, refreshing it on 401.
    if (reason === 'handshake') await this.api.me();
    return this.api.freshAccessToken();
  }

  async onAuthFailed() {
    try {
      await this.api.me();
    } catch {
      // api.refresh() signs out when the refresh token is refused.
    }
  }

  // Teams and channels over REST while the WebSocket connects.
  start() {
    this.ready = Promise.all([this.reloadTeams(), this.reloadChannels()]).then(() => {
      if (this.store.freshDevice) this.store.baseline = new Set(this.store.channels.keys());
    });
    this.socket.connect();
    return this.ready;
  }

  stop() {
    this.socket.close();
  }

  async reloadTeams() {
    this.store.setTeams(await this.api.teams());
  }

  async reloadChannels() {
    this.store.setChannels(await this.api.channels());
  }

  // Team-level state is not recoverable by resume (§8.8): refetch it, at most once per 300 ms.
  reloadSoon() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(async () => {
      try {
        await Promise.all([this.reloadTeams(), this.reloadChannels()]);
        this.loadMissing();
        this.loadPresences();
      } catch {
        // The next event or reconnect tries again.
      }
    }, 300);
  }

  async onHello(hello, reconnect) {
    try {
      await this.ready;
    } catch {
      await Promise.all([this.reloadTeams(), this.reloadChannels()]);
    }
    performance.mark('parley:hello');
    if (reconnect) {
      this.resume();
      this.reloadSoon();
    } else {
      this.loadMissing();
      this.loadPresences();
    }
    this.flushOutbox();
  }

  // Loads the latest page of every channel without a stream position, the open one first.
  loadMissing() {
    const current = this.store.channelId;
    const ids = [...this.store.channels.keys()].sort((a, b) =>
      (a === current ? -1 : 0) - (b === current ? -1 : 0) || a - b);
    for (const id of ids) {
      const c = this.store.chan(id);
      if (!c.pos && !c.loading) this.loadLatest(id);
    }
  }

  // The newest page through get_channel_messages: it gives the stream position the history
  // reflects, from which live frames continue (§8.8). Also used to resync a channel.
  async loadLatest(channelId) {
    const c = this.store.chan(channelId);
    if (c.loading) return;
    c.loading = true;
    c.buffer = [];
    try {
      const reply = await this.socket.request({
        message_type: 'get_channel_messages', channel_id: channelId, limit: PAGE,
      });
      // The page replaces the cache: older pages loaded before may have a gap to it (a resync
      // after a long absence) or hold deleted messages, so scrolling up fetches them again.
      const fresh = new Set(reply.messages.map((m) => m.id));
      for (const id of [...c.messages.keys()]) if (!fresh.has(id)) this.store.removeMessage(channelId, id);
      for (const m of reply.messages) this.store.putMessage(fromWs(m));
      const oldest = reply.messages.length ? reply.messages[0].id : null;
      c.hasOlder = reply.has_more && oldest !== null;
      c.olderPath = c.hasOlder ? `/api/chat/channels/${channelId}/messages/?limit=${PAGE}&before=${oldest}` : null;
      c.pos = { offset: reply.offset, epoch: reply.epoch };
      c.loaded = true;
      c.loading = false;
      const buffered = c.buffer;
      c.buffer = [];
      for (const f of buffered) this.onStreamFrame(f);
      if (channelId === this.store.channelId && document.visibilityState === 'visible') this.store.markRead(channelId);
      else this.store.recount(channelId);
      this.store.emit(`messages:${channelId}`);
    } catch (e) {
      c.loading = false;
      if (e.code === 'not_found') this.store.removeChannel(channelId);
      // Disconnected: the next hello loads it again.
    }
  }

  // Older messages through the paginated REST list (§0.11: before= and the Link header).
  async loadOlder(channelId) {
    const c = this.store.chan(channelId);
    if (!c.hasOlder || c.loadingOlder || !c.olderPath) return false;
    c.loadingOlder = true;
    try {
      const page = await this.api.messagePage(c.olderPath);
      for (const m of page.messages) this.store.putMessage(fromRest(m));
      c.olderPath = page.next;
      c.hasOlder = !!page.next;
      return true;
    } finally {
      c.loadingOlder = false;
      this.store.emit(`messages:${channelId}`);
    }
  }

  // After a reconnect: every channel with a position resumes from it (§8.8).
  async resume() {
    const channels = {};
    for (const [id, c] of this.store.chans) {
      if (c.pos && !c.loading) channels[id] = { offset: c.pos.offset, epoch: c.pos.epoch };
    }
    const ids = Object.keys(channels).map(Number);
    if (ids.length === 0) {
      this.loadMissing();
      return;
    }
    ids.forEach((id) => this.resuming.add(id));
    try {
      const reply = await this.socket.request({ message_type: 'resume', channels });
      for (const [key, r] of Object.entries(reply.channels || {})) {
        const id = Number(key);
        this.resuming.delete(id);
        const c = this.store.chans.get(id);
        if (r.status === 'not_found') {
          this.store.removeChannel(id);
        } else if (r.status === 'recovered' && c && c.pos && c.pos.offset < r.offset) {
          this.loadLatest(id); // a replayed frame went missing: reload rather than guess
        }
      }
    } catch (e) {
      if (!(e instanceof Disconnected)) ids.forEach((id) => this.loadLatest(id));
    } finally {
      ids.forEach((id) => this.resuming.delete(id));
      this.loadMissing();
    }
  }

  // ---- frames

  onFrame(f) {
    if (STREAM_TYPES.has(f.type)) return this.onStreamFrame(f);
    const s = this.store;
    switch (f.type) {
      case 'resync_required':
        return this.loadLatest(f.channel_id);
      case 'channel_created': {
        const ch = { ...f.channel };
        delete ch.team_id;
        s.putChannel(ch);
        return this.loadLatest(ch.id);
      }
      case 'team_updated':
        return s.putTeam(f.team);
      case 'member_added':
        return this.reloadSoon(); // members, and the channels a new member now sees
      case 'member_removed':
        if (f.user_id === s.me.id) return s.removeTeam(f.team_id);
        return this.reloadSoon();
      case 'team_deleted':
        return s.removeTeam(f.team_id);
      case 'user_presence':
        return s.setPresence(f.user_id, f.status);
      case 'typing':
        return s.setTyping(f.channel_id, f.user_id, f.username, f.is_typing);
      default:
        return undefined;
    }
  }

  // Applies a stream frame exactly once, in offset order: frames the history already reflects
  // are skipped, a gap asks the server to replay (resume), another epoch reloads the channel.
  onStreamFrame(f) {
    const id = f.channel_id;
    if (!this.store.channels.has(id)) return;
    const c = this.store.chan(id);
    if (c.loading) {
      c.buffer.push(f);
      return;
    }
    if (!c.pos) {
      this.loadLatest(id);
      this.store.chan(id).buffer.push(f);
      return;
    }
    if (f.epoch !== c.pos.epoch) {
      this.loadLatest(id);
      return;
    }
    if (f.offset <= c.pos.offset) return; // already reflected
    if (f.offset > c.pos.offset + 1) {
      // Missing frames: the server replays them (resume), this one included.
      if (!this.resuming.has(id)) this.resumeChannel(id);
      return;
    }
    c.pos = { offset: f.offset, epoch: f.epoch };
    this.apply(f);
  }

  async resumeChannel(id) {
    const c = this.store.chan(id);
    this.resuming.add(id);
    try {
      await this.socket.request({
        message_type: 'resume', channels: { [id]: { offset: c.pos.offset, epoch: c.pos.epoch } },
      });
    } catch {
      this.loadLatest(id);
    } finally {
      this.resuming.delete(id);
    }
  }

  apply(f) {
    const s = this.store;
    const cid = f.channel_id;
    switch (f.type) {
      case 'channels':
      case 'direct': {
        const isNew = s.putMessage(fromWs(f));
        s.setTyping(cid, f.sender_id, f.sender, false);
        if (isNew && f.sender_id !== s.me.id) {
          if (cid === s.channelId && document.visibilityState === 'visible') s.markRead(cid);
          else if (f.id > s.lastRead(cid)) s.bumpUnread(cid);
        }
        this.matchPending(f);
        break;
      }
      case 'message_edited':
        s.patchMessage(cid, f.message_id, {
          content: f.content, linkPreview: f.link_preview ?? null, isEdited: true, editedAt: f.edited_at,
        });
        break;
      case 'message_deleted':
        s.removeMessage(cid, f.message_id);
        break;
      case 'reaction_update':
        s.patchMessage(cid, f.message_id, { reactions: f.reactions || {} });
        break;
      case 'message_pinned':
        s.patchMessage(cid, f.message_id, { isPinned: true });
        if (f.unpinned_message_id) s.patchMessage(cid, f.unpinned_message_id, { isPinned: false });
        break;
      case 'message_unpinned':
        s.patchMessage(cid, f.message_id, { isPinned: false });
        break;
      case 'channel_updated':
        s.putChannel(f.channel);
        break;
      case 'channel_deleted':
        s.removeChannel(cid);
        break;
      default:
        break;
    }
  }

  // A live frame of our own message may arrive before its ack: retire the oldest sent
  // placeholder with the same content so the message never shows twice.
  matchPending(f) {
    if (f.sender_id !== this.store.me.id) return;
    const o = this.store.outbox.find((p) => p.channelId === f.channel_id && p.status === 'sent' &&
      !p.messageId && p.content === f.content);
    if (o) {
      o.messageId = f.id;
      this.store.outbox = this.store.outbox.filter((p) => p !== o);
      this.store.emit('outbox', `messages:${f.channel_id}`);
    }
  }

  // ---- presence

  async loadPresences() {
    const teamId = this.store.teamId;
    if (!teamId) return;
    try {
      const reply = await this.socket.request({ message_type: 'get_user_presences', team_id: teamId });
      for (const p of reply.presences) this.store.presence.set(p.user_id, p.status);
      this.store.emit('presence');
    } catch {
      // Presence is decoration: the next reconnect or team switch asks again.
    }
  }

  // ---- actions

  selectChannel(teamId, channelId) {
    const prevTeam = this.store.teamId;
    this.store.select(teamId, channelId);
    if (teamId !== prevTeam) this.loadPresences();
    if (channelId) {
      const c = this.store.chan(channelId);
      if (!c.pos && !c.loading && this.socket.state === 'online') this.loadLatest(channelId);
      this.store.markRead(channelId);
    }
  }

  // Queues a message; it is sent now or after the next hello, always with the same request_id.
  send(channelId, draft) {
    const item = {
      requestId: `m-${crypto.getRandomValues(new Uint32Array(2)).join('-')}`,
      channelId,
      content: draft.content,
      replyTo: draft.replyTo || null,
      replied: draft.replied || null,
      fileIds: draft.attachments.map((a) => a.id),
      attachments: draft.attachments,
      linkPreview: draft.linkPreview || null,
      status: 'queued',
      messageId: null,
      error: null,
      createdAt: new Date().toISOString(),
    };
    this.store.outbox.push(item);
    this.store.emit('outbox', `messages:${channelId}`);
    this.sendTyping(channelId, false);
    this.flushOutbox();
  }

  flushOutbox() {
    for (const item of this.store.outbox) {
      if (item.status === 'queued' && this.socket.state === 'online') this.transmit(item);
    }
  }

  async transmit(item) {
    const channel = this.store.channels.get(item.channelId);
    if (!channel) return;
    item.status = 'sent';
    const frame = channel.is_direct_message
      ? { message_type: 'direct_message', channel_id: item.channelId }
      : { message_type: 'channel_message', channel: item.channelId };
    Object.assign(frame, {
      content: item.content,
      reply_to: item.replyTo,
      link_preview: item.linkPreview,
      fileIds: item.fileIds,
      request_id: item.requestId,
    });
    try {
      const ack = await this.socket.request(frame);
      item.messageId = ack.message_id;
      if (this.store.findMessage(item.channelId, ack.message_id)) {
        this.store.outbox = this.store.outbox.filter((o) => o !== item);
      }
    } catch (e) {
      if (e instanceof Disconnected || e.code === 'timeout') {
        item.status = 'queued'; // sent again after the next hello; the server dedupes
      } else {
        item.status = 'failed';
        item.error = e.message;
      }
    }
    this.store.emit('outbox', `messages:${item.channelId}`);
  }

  retry(item) {
    item.status = 'queued';
    item.error = null;
    this.flushOutbox();
    this.store.emit('outbox', `messages:${item.channelId}`);
  }

  discard(item) {
    this.store.outbox = this.store.outbox.filter((o) => o !== item);
    this.store.emit('outbox', `messages:${item.channelId}`);
  }

  // §8.10: at most one is_typing true per 3 s; false always.
  sendTyping(channelId, isTyping) {
    const now = Date.now();
    if (isTyping && now - this.typingSent < 3000) return;
    if (!isTyping && this.typingSent === 0) return;
    this.typingSent = isTyping ? now : 0;
    this.socket.send({ message_type: 'typing', channel_id: channelId, is_typing: isTyping });
  }

  edit(messageId, content) {
    return this.socket.request({ message_type: 'edit_message', message_id: messageId, content });
  }

  remove(messageId) {
    return this.socket.request({ message_type: 'delete_message', message_id: messageId });
  }

  react(messageId, reaction) {
    return this.socket.request({ message_type: 'reaction', message_id: messageId, reaction });
  }

  pin(messageId, pinned) {
    return this.socket.request({ message_type: pinned ? 'pin_message' : 'unpin_message', message_id: messageId });
  }

  forward(channelIds, content) {
    return this.socket.request({ message_type: 'forward_message', channels: channelIds, content });
  }

  async openDm(teamId, userId) {
    const ch = await this.api.dmChannel(teamId, userId);
    this.store.putChannel(ch);
    this.selectChannel(teamId, ch.id);
    return ch;
  }
}
