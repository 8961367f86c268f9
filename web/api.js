// The REST client (API.md §2-§7): tokens in localStorage, one refresh on 401 through
// /api/auth/token/refresh/ (shared by concurrent callers), readable errors, XHR uploads.

const KEY = 'parley.session';

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
    this.code = body && typeof body === 'object' ? body.code || null : null;
  }
}

// One readable sentence from any of the four error shapes (§0.6).
function describe(status, body) {
  if (!body || typeof body !== 'object') return `Request failed (${status})`;
  if (typeof body.message === 'string') return body.message;
  if (typeof body.error === 'string') return body.error;
  if (typeof body.Error === 'string') return body.Error;
  if (typeof body.detail === 'string') return body.detail;
  for (const [field, messages] of Object.entries(body)) {
    if (Array.isArray(messages) && messages.length) return `${field}: ${messages[0]}`;
  }
  return `Request failed (${status})`;
}

// Seconds until a JWT expires (negative when expired), from its unverified payload.
function secondsLeft(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return payload.exp - Date.now() / 1000;
  } catch {
    return -1;
  }
}

export class Api {
  constructor() {
    this.session = null; // {access, refresh, user: {id, username, email}}
    this.refreshing = null;
    this.onLogout = () => {};
    try {
      this.session = JSON.parse(localStorage.getItem(KEY));
    } catch {
      this.session = null;
    }
  }

  get user() {
    return this.session ? this.session.user : null;
  }

  save(session) {
    this.session = session;
    if (session) localStorage.setItem(KEY, JSON.stringify(session));
    else localStorage.removeItem(KEY);
  }

  // ---- auth (§2.6)

  async register(username, email, password) {
    const body = await this.call('POST', '/api/auth/register', { username, email, password }, { anonymous: true });
    this.adopt(body);
  }

  async login(username, password) {
    const body = await this.call('POST', '/api/auth/login', { username, password }, { anonymous: true });
    this.adopt(body);
  }

  adopt(body) {
    this.save({
      access: body.access,
      refresh: body.refresh,
      user: { id: body.user_id, username: body.username, email: body.email },
    });
  }

  async logout() {
    const s = this.session;
    if (s) {
      try {
        await this.call('POST', '/api/auth/logout', { refresh: s.refresh });
      } catch {
        // Signing out locally is what matters; the tokens expire anyway.
      }
    }
    this.save(null);
    this.onLogout();
  }

  // An access token valid for at least a minute (the WebSocket handshake cannot refresh).
  async freshAccessToken() {
    if (!this.session) throw new ApiError(401, { detail: 'Not signed in.' });
    if (secondsLeft(this.session.access) < 60) await this.refresh();
    return this.session.access;
  }

  // Refreshes the access token once for every concurrent caller; signs out when refused.
  refresh() {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const s = this.session;
        if (!s) throw new ApiError(401, { detail: 'Not signed in.' });
        const r = await fetch('/api/auth/token/refresh/', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh: s.refresh }),
        });
        const body = await r.json().catch(() => null);
        if (r.status === 401 || r.status === 400) {
          this.save(null);
          this.onLogout();
          throw new ApiError(r.status, body);
        }
        if (!r.ok) throw new ApiError(r.status, body);
        this.save({ ...s, access: body.access, refresh: body.refresh || s.refresh });
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  // ---- requests

  // fetch() with the bearer token; retries once after a refresh on 401. Returns the parsed body
  // (or null for 204); with {withHeaders: true}, {body, headers}.
  async call(method, path, body, opts = {}) {
    const send = () => {
      const headers = { Accept: 'application/json' };
      if (!opts.anonymous && this.session) headers.Authorization = `Bearer ${this.session.access}`;
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      Object.assign(headers, opts.headers || {});
      return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    };
    let r = await send();
    if (r.status === 401 && !opts.anonymous && this.session) {
      await this.refresh();
      r = await send();
    }
    const text = r.status === 204 ? '' : await r.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!r.ok) throw new ApiError(r.status, parsed);
    return opts.withHeaders ? { body: parsed, headers: r.headers } : parsed;
  }

  get(path, opts) {
    return this.call('GET', path, undefined, opts);
  }

  post(path, body = {}, opts) {
    return this.call('POST', path, body, opts);
  }

  // ---- resources

  me() { return this.get('/api/auth/me/'); }
  teams() { return this.get('/api/chat/teams/'); }
  team(id) { return this.get(`/api/chat/teams/${id}/`); }
  createTeam(name, description) { return this.post('/api/chat/teams/', { name, description }); }
  joinTeam(code) { return this.post('/api/chat/teams/join_via_invitation/', { invite_code: code }); }
  leaveTeam(id) { return this.post(`/api/chat/teams/${id}/leave/`); }
  invitations(teamId) { return this.get(`/api/chat/teams/${teamId}/invitations/`); }
  createInvitation(teamId, opts) { return this.post(`/api/chat/teams/${teamId}/create_invitation/`, opts); }
  revokeInvitation(teamId, code) {
    return this.post(`/api/chat/teams/${teamId}/revoke_invitation/`, { invite_code: code });
  }
  channels() { return this.get('/api/chat/channels/'); }
  createChannel(teamId, name, description) {
    return this.post('/api/chat/channels/', { team: teamId, name, description });
  }
  dmChannel(teamId, userId) {
    return this.post('/api/chat/channels/create_or_get_dm_channel/', { team_id: teamId, user_id: userId });
  }
  linkPreview(url) { return this.post('/api/chat/fetch-link-preview/', { url }); }

  // A page of older messages: {messages, next} where `next` is the path of the Link rel="next"
  // (same origin, whatever base URL the server used) or null at the beginning.
  async messagePage(path) {
    const { body, headers } = await this.get(path, { withHeaders: true });
    return { messages: body, next: nextLink(headers.get('Link')) };
  }

  // Uploads one file with progress (0..1); resolves to the Attachment (§7.1). `handle.abort()`
  // cancels. XMLHttpRequest because fetch() reports no upload progress.
  upload(file, onProgress, handle = {}) {
    const attempt = () =>
      new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        handle.abort = () => xhr.abort();
        xhr.open('POST', '/api/chat/upload-file/');
        xhr.setRequestHeader('Authorization', `Bearer ${this.session.access}`);
        xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
        xhr.onload = () => {
          let body = null;
          try {
            body = JSON.parse(xhr.responseText);
          } catch {
            body = null;
          }
          if (xhr.status >= 200 && xhr.status < 300) resolve(body);
          else reject(new ApiError(xhr.status, body));
        };
        xhr.onerror = () => reject(new ApiError(0, { detail: 'Network error during upload.' }));
        xhr.onabort = () => reject(new ApiError(0, { detail: 'Upload cancelled.' }));
        const form = new FormData();
        form.append('file', file, file.name || 'file');
        xhr.send(form);
      });
    return this.freshAccessToken().then(() =>
      attempt().catch(async (e) => {
        if (e.status !== 401) throw e;
        await this.refresh();
        return attempt();
      }));
  }

  // A file through /api/chat/{id}/download/ with the token, as an object URL (for expired
  // signed media URLs, §7.2).
  async downloadUrl(fileId) {
    const send = () => fetch(`/api/chat/${fileId}/download/`, {
      headers: { Authorization: `Bearer ${this.session.access}` },
    });
    let r = await send();
    if (r.status === 401) {
      await this.refresh();
      r = await send();
    }
    if (!r.ok) throw new ApiError(r.status, null);
    return URL.createObjectURL(await r.blob());
  }
}

// The path and query of a `Link: <url>; rel="next"` header, or null.
export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (m) {
      try {
        const u = new URL(m[1], location.origin);
        return u.pathname + u.search;
      } catch {
        return null;
      }
    }
  }
  return null;
}
