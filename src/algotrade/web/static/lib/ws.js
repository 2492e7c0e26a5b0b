// One WebSocket to the daemon's /ws for the whole page (ctx.ws).
//
// - subscribe(topics, botId, onMessage) → unsubscribe(). Subscriptions are refcounted per
//   (topic, bot id): the server is told to unsubscribe only when the last listener leaves.
// - Every new listener gets its own snapshot: the subscribe is sent again even when the
//   (topic, bot id) is already subscribed, and a snapshot goes only to listeners still waiting
//   for one (the server answers requests in order, so a FIFO of pending requests matches
//   "subscribed"/"error" answers to them).
// - On close the manager reconnects with exponential backoff (0.5 s … 10 s, jittered) and
//   re-subscribes everything; every listener then gets a fresh snapshot to catch up.
// - A ping every 20 s; no pong within 10 s closes the socket (a half-open connection otherwise
//   looks alive forever).
// - Close 4401 (session gone): no reconnect; onUnauthorized() shows the sign-in page.
// The session cookie authenticates the socket (same origin): no key in the URL.

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const CLOSE_UNAUTHORIZED = 4401;

export class WsManager {
  constructor({ url, onState = () => {}, onUnauthorized = () => {} }) {
    this.url = url;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.subs = new Map(); // "topic\0botId" → {topic, botId, listeners: Set<listener>}
    this.pending = []; // requests sent and not answered yet: {op, listeners}
    this.socket = null;
    this.running = false;
    this.attempt = 0;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.state = "idle"; // idle | connecting | connected | reconnecting | unauthorized
    this.retryAt = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this._connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this._stopPing();
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close(1000, "signed out");
    }
    this.pending = [];
    this._setState("idle");
  }

  /** Listen to `topics` of `botId` ("*" = all bots); returns the unsubscribe function. */
  subscribe(topics, botId, onMessage) {
    const listeners = topics.map((topic) => {
      const key = `${topic}\u0000${botId}`;
      let sub = this.subs.get(key);
      if (!sub) {
        sub = { topic, botId, listeners: new Set() };
        this.subs.set(key, sub);
      }
      const listener = { fn: onMessage, waiting: true, sub };
      sub.listeners.add(listener);
      return listener;
    });
    this._send({ op: "subscribe", topics, bot_id: botId }, listeners);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const gone = [];
      for (const listener of listeners) {
        const { sub } = listener;
        sub.listeners.delete(listener);
        if (sub.listeners.size === 0) {
          this.subs.delete(`${sub.topic}\u0000${sub.botId}`);
          gone.push(sub.topic);
        }
      }
      if (gone.length) this._send({ op: "unsubscribe", topics: gone, bot_id: botId }, []);
    };
  }

  // -- connection ---------------------------------------------------------------------------

  _connect() {
    if (!this.running) return;
    this._setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.pending = [];
      this._setState("connected");
      this._resubscribeAll();
      this._startPing();
    };
    socket.onmessage = (event) => this._onMessage(event.data);
    socket.onclose = (event) => {
      this.socket = null;
      this._stopPing();
      this.pending = [];
      if (!this.running) return;
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.running = false;
        this._setState("unauthorized");
        this.onUnauthorized();
        return;
      }
      this._scheduleReconnect();
    };
  }

  _scheduleReconnect() {
    this.attempt += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (this.attempt - 1));
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.retryAt = Date.now() + delay;
    this._setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._connect(), delay);
  }

  /** Skip the backoff wait (the banner's "retry now"). */
  retryNow() {
    if (!this.running || this.socket) return;
    clearTimeout(this.timer);
    this._connect();
  }

  _resubscribeAll() {
    const byBot = new Map();
    for (const sub of this.subs.values()) {
      if (!byBot.has(sub.botId)) byBot.set(sub.botId, { topics: [], listeners: [] });
      const group = byBot.get(sub.botId);
      group.topics.push(sub.topic);
      for (const listener of sub.listeners) {
        listener.waiting = true;
        group.listeners.push(listener);
      }
    }
    for (const [botId, group] of byBot) {
      this._send({ op: "subscribe", topics: group.topics, bot_id: botId }, group.listeners);
    }
  }

  _send(request, listeners) {
    // Not connected: the request is dropped; onopen re-subscribes from this.subs.
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.pending.push({ op: request.op, listeners });
    this.socket.send(JSON.stringify(request));
  }

  _startPing() {
    this._stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
      this._send({ op: "ping" }, []);
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.socket && this.socket.close(4000, "no pong"), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  _stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  _setState(state) {
    this.state = state;
    this.onState(state, this);
  }

  // -- dispatch -----------------------------------------------------------------------------

  _onMessage(raw) {
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch {
      return;
    }
    switch (msg.type) {
      case "event":
        this._dispatchEvent(msg);
        break;
      case "snapshot":
        this._dispatchSnapshot(msg);
        break;
      case "subscribed":
      case "unsubscribed":
        this.pending.shift();
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        this.pending.shift();
        break;
      case "error": {
        const request = this.pending.shift();
        console.warn("ws error", msg.error);
        for (const listener of request ? request.listeners : []) {
          if (listener.waiting) {
            listener.waiting = false;
            this._call(listener, msg);
          }
        }
        break;
      }
      default:
        break;
    }
  }

  _dispatchSnapshot(msg) {
    const sub = this.subs.get(`${msg.topic}\u0000${msg.bot_id}`);
    if (!sub) return;
    for (const listener of [...sub.listeners]) {
      if (listener.waiting) {
        listener.waiting = false;
        this._call(listener, msg);
      }
    }
  }

  _dispatchEvent(msg) {
    // An event names its bot (or null for daemon-wide topics such as summary): it reaches the
    // listeners of that bot and those of "*"; a null bot reaches every listener of the topic.
    for (const sub of [...this.subs.values()]) {
      if (sub.topic !== msg.topic) continue;
      if (msg.bot_id !== null && msg.bot_id !== undefined && sub.botId !== "*" && sub.botId !== msg.bot_id) continue;
      for (const listener of [...sub.listeners]) this._call(listener, msg);
    }
  }

  _call(listener, msg) {
    try {
      listener.fn(msg);
    } catch (err) {
      console.error("ws listener failed", err);
    }
  }
}
