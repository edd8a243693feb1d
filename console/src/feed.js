// The live feed: one WebSocket (`{feed_url}?token=<id token>`), reconnected with exponential
// backoff and jitter, its messages (`{"v": 1, "type", "at", "data"}`, shared_utils/feed/messages.py)
// dispatched by type. Every message is a snapshot, so a missed one is repaired by the next, and
// after a reconnect the pages reload what they show (the `resync` event).

const FEED_VERSION = 1;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
// A socket that closes this soon after opening did not really connect: keep backing off.
const STABLE_AFTER_MS = 5000;
// 4001-4003, 1008: the feed refused the token (expired, revoked): reconnecting cannot help.
const AUTH_CLOSE_CODES = new Set([1008, 4001, 4003]);

export const FeedState = Object.freeze({
  CONNECTING: 'connecting',
  LIVE: 'live',
  RECONNECTING: 'reconnecting',
  STOPPED: 'stopped',
});

export class Feed {
  /** `url`: ws:// or wss:// URL of the feed; `getToken`: the current id token (or its promise). */
  constructor({ url, getToken, onAuthFailure }) {
    this.url = url;
    this.getToken = getToken;
    this.onAuthFailure = onAuthFailure;
    this.handlers = new Map();
    this.socket = null;
    this.state = FeedState.STOPPED;
    this.attempt = 0;
    this.retryTimer = null;
    this.openedAt = 0;
    this.retryAt = null;
    this.everConnected = false;
    this.stopped = true;
    this.onBeforeUnload = () => this.stop();
  }

  /** `on('position', fn)`; also 'state' (fn(state, feed)), 'resync', '*' (every message). */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type)?.delete(handler);
  }

  emit(type, ...args) {
    for (const handler of [...(this.handlers.get(type) || [])]) {
      try {
        handler(...args);
      } catch (error) {
        // A page's bug must not stop the feed; say so where a developer looks.
        console.warn(`feed handler for ${type} failed:`, error);
      }
    }
  }

  setState(state) {
    this.state = state;
    this.emit('state', state, this);
  }

  start() {
    if (this.socket || this.retryTimer) return;
    this.stopped = false;
    addEventListener('beforeunload', this.onBeforeUnload);
    this.connect();
  }

  stop() {
    this.stopped = true;
    removeEventListener('beforeunload', this.onBeforeUnload);
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onerror = null;
      socket.onmessage = null;
      socket.close(1000, 'signed out');
    }
    this.setState(FeedState.STOPPED);
  }

  async connect() {
    this.retryTimer = null;
    const token = await this.getToken();
    if (this.stopped) return;
    if (!token) {
      this.setState(FeedState.STOPPED);
      return;
    }
    const url = new URL(this.url, location.href);
    url.searchParams.set('token', token);
    this.setState(this.everConnected ? FeedState.RECONNECTING : FeedState.CONNECTING);
    let socket;
    try {
      socket = new WebSocket(url.toString());
    } catch (error) {
      console.warn('feed: cannot open', error);
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.openedAt = Date.now();
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.retryAt = null;
      this.setState(FeedState.LIVE);
      if (reconnected) this.emit('resync');
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onerror = () => {}; // the close event that follows decides what to do
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (Date.now() - this.openedAt > STABLE_AFTER_MS) this.attempt = 0;
      if (AUTH_CLOSE_CODES.has(event.code)) {
        this.setState(FeedState.STOPPED);
        if (this.onAuthFailure) this.onAuthFailure(event);
        return;
      }
      this.scheduleRetry();
    };
  }

  scheduleRetry() {
    const ceiling = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState(FeedState.RECONNECTING);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      console.warn('feed: a frame that is not JSON was ignored');
      return;
    }
    if (!message || message.v !== FEED_VERSION || typeof message.type !== 'string') {
      console.warn('feed: a message of an unknown version was ignored', message?.v);
      return;
    }
    this.emit('*', message);
    this.emit(message.type, message.data, message);
  }
}

/** The feed URL from config.json, or this origin's /feed. */
export function feedUrl(config) {
  if (config.feed_url) return config.feed_url;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/feed`;
}
