// The WebSocket connection (API.md §8): connects with the `bearer, <token>` subprotocol, pairs
// requests with their reply/ack/error by request_id, reconnects with backoff, and watches for a
// silent connection with its own pings. Frames without a request_id go to onFrame.

const REQUEST_TIMEOUT_MS = 15000;
const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 10000;
const BACKOFF_MS = [250, 1000, 2000, 4000, 8000, 15000];
// A socket closes with 4001 when its access token expires (§2.3): hand it a fresh one this long
// before (the token source refreshes tokens with less than a minute left).
const REAUTH_BEFORE_S = 45;

// Seconds until a token's `exp` (negative when unreadable).
function secondsLeft(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return payload.exp - Date.now() / 1000;
  } catch {
    return -1;
  }
}

export class Disconnected extends Error {
  constructor() {
    super('Not connected to the server.');
    this.disconnected = true;
  }
}

// An error frame as an exception: .code, .field (§8.3).
export class FrameError extends Error {
  constructor(frame) {
    super(frame.error || 'Request failed.');
    this.code = frame.code;
    this.field = frame.field;
    this.frame = frame;
  }
}

export class Socket {
  // getToken: async (reason) => an access token (reason 'handshake' after a refused upgrade).
  // listeners: {onState(state, detail), onHello(hello, reconnect), onFrame(frame), onAuthFailed()}
  constructor(getToken, listeners) {
    this.getToken = getToken;
    this.l = listeners;
    this.ws = null;
    this.state = 'idle'; // connecting | online | offline | closed
    this.pending = new Map(); // request_id → {resolve, reject, timer}
    this.seq = 0;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.everConnected = false;
    this.stopped = false;
    this.retryAt = 0;
    this.token = null; // the access token the socket rests on
    this.reauthTimer = null;
    addEventListener('online', () => this.retryNow());
  }

  setState(state, detail) {
    this.state = state;
    this.l.onState(state, detail);
  }

  async connect() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    let token;
    try {
      token = await this.getToken(this.lastReason);
    } catch (e) {
      if (e.status === 401 || e.status === 400) {
        this.l.onAuthFailed();
        return;
      }
      this.scheduleRetry();
      return;
    }
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/chat/`;
    let ws;
    try {
      ws = new WebSocket(url, ['bearer', token]);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.token = token;
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPings();
      clearTimeout(this.reauthTimer);
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Disconnected());
      }
      this.pending.clear();
      if (this.stopped) return;
      if (this.cycling) {
        this.cycling = false;
        this.connect();
        return;
      }
      if (e.code === 4001) {
        // Revoked token or deactivated user (§2.3): a refresh decides whether to go on.
        this.l.onAuthFailed(true);
      }
      // A refused handshake (401) closes before open: the next attempt refreshes the token.
      this.scheduleRetry(opened ? null : 'handshake');
    };
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === 'hello') {
      this.attempt = 0;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.setState('online');
      this.startPings();
      this.scheduleReauth();
      this.l.onHello(frame, reconnect);
      return;
    }
    if (frame.type === 'pong') {
      clearTimeout(this.pongTimer);
    }
    // Replies and acks carry the request's request_id; events never do (§8.3, §13.7).
    const rid = frame.request_id;
    if (rid !== undefined && this.pending.has(rid)) {
      const p = this.pending.get(rid);
      this.pending.delete(rid);
      clearTimeout(p.timer);
      if (frame.type === 'error') p.reject(new FrameError(frame));
      else p.resolve(frame);
      return;
    }
    this.l.onFrame(frame);
  }

  // Sends a request and resolves with its reply or ack; rejects with FrameError or Disconnected.
  // A given request_id is kept (message sends retry with the same one: the server dedupes).
  request(frame) {
    if (!this.ws || this.state !== 'online') return Promise.reject(new Disconnected());
    const rid = frame.request_id ?? `r${++this.seq}`;
    const msg = { ...frame, request_id: rid };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new FrameError({ error: 'The server did not answer in time.', code: 'timeout' }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(rid, { resolve, reject, timer });
      this.ws.send(JSON.stringify(msg));
    });
  }

  // Fire and forget (typing).
  send(frame) {
    if (this.ws && this.state === 'online') this.ws.send(JSON.stringify(frame));
  }

  scheduleRetry(reason) {
    if (this.stopped) return;
    this.lastReason = reason || null;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState('offline', { retryAt: this.retryAt, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  retryNow() {
    if (this.state === 'offline') {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (!this.ws || this.state !== 'online') return;
      this.ws.send(JSON.stringify({ message_type: 'ping' }));
      clearTimeout(this.pongTimer);
      // No pong: the connection is dead without having closed (a cut network path).
      this.pongTimer = setTimeout(() => this.ws && this.ws.close(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  // Before the socket's token expires, a fresh one through `reauth` (§8.4) keeps it open. On any
  // failure nothing is lost: the socket closes with 4001 and reconnects with a fresh token.
  scheduleReauth() {
    clearTimeout(this.reauthTimer);
    const left = secondsLeft(this.token);
    if (left <= 0) return;
    const ws = this.ws;
    this.reauthTimer = setTimeout(async () => {
      try {
        const token = await this.getToken('reauth');
        if (this.ws !== ws || token === this.token) return;
        await this.request({ message_type: 'reauth', token });
        this.token = token;
        this.scheduleReauth();
      } catch {
        // Closed meanwhile, or refused: the 4001 close path takes over.
      }
    }, Math.max(0, left - REAUTH_BEFORE_S) * 1000);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  // Reconnects at once (the new socket is subscribed to every current team; resume fills the gap).
  cycle() {
    if (!this.ws || this.state !== 'online') return;
    this.cycling = true;
    this.ws.close(1000);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.reauthTimer);
    this.stopPings();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState('closed');
  }
}
