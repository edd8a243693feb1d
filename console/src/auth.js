// Who is signed in, and how. Two modes, chosen by config.json:
// - local: the user pastes the token `python -m local_platform token --user alice` prints;
// - cognito: the hosted UI's authorization-code flow with PKCE; the id token is kept.
// Either way the id token lives in sessionStorage (gone with the tab) and goes out as
// `Authorization: Bearer <id token>` on every REST call and as `?token=` on the feed; in cognito
// mode it is renewed with the refresh token (same tab only) before it expires.

const TOKEN_KEY = 'console.id_token';
const REFRESH_KEY = 'console.refresh_token';
const PKCE_KEY = 'console.pkce';
// Cognito mode: a token this close to its expiry is renewed with the refresh token first.
const REFRESH_BEFORE_SECONDS = 300;
const ADMINS_GROUP = 'Admins';
const GROUPS_CLAIM = 'cognito:groups';
const EXPIRY_MARGIN_SECONDS = 30;

function base64UrlDecode(text) {
  const padded = text.replaceAll('-', '+').replaceAll('_', '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

function base64UrlEncode(bytes) {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function randomString(byteCount = 32) {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(byteCount)));
}

/** The claims of a JWT (not verified here: the API verifies every call). Null if malformed. */
export function claimsOf(token) {
  const parts = String(token || '').trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

function groupsOf(claims) {
  const raw = claims[GROUPS_CLAIM];
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw === 'string') return raw.split(/[\s,]+/).filter(Boolean);
  return [];
}

/** The signed-in user from a token: {userId, groups, isAdmin, expiresAt}; null if unusable. */
export function identityOf(token, now = Date.now()) {
  const claims = claimsOf(token);
  if (!claims || typeof claims.sub !== 'string' || !claims.sub) return null;
  if (typeof claims.exp === 'number' && claims.exp - EXPIRY_MARGIN_SECONDS <= now / 1000) return null;
  const groups = groupsOf(claims);
  return {
    userId: claims['cognito:username'] || claims.email || claims.sub,
    sub: claims.sub,
    groups,
    isAdmin: groups.includes(ADMINS_GROUP),
    expiresAt: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null,
  };
}

export class Auth {
  constructor(config) {
    this.config = config || { mode: 'local' };
    this.mode = this.config.mode === 'cognito' ? 'cognito' : 'local';
  }

  get token() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token && identityOf(token) ? token : null;
  }

  get identity() {
    return identityOf(this.token);
  }

  /** The id token, renewed first when it is about to expire (cognito mode, with a refresh token). */
  async freshToken() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    const claims = claimsOf(token);
    const expiring = typeof claims?.exp === 'number' && claims.exp - REFRESH_BEFORE_SECONDS <= Date.now() / 1000;
    if (this.mode !== 'cognito' || !expiring || !refreshToken) return this.token;
    if (!this.refreshing) {
      this.refreshing = this.exchange({ grant_type: 'refresh_token', refresh_token: refreshToken })
        .catch(() => sessionStorage.removeItem(REFRESH_KEY)) // signed out when the id token ends
        .finally(() => { this.refreshing = null; });
    }
    await this.refreshing;
    return this.token;
  }

  /** POST to the hosted UI's token endpoint; keeps the id token (and a refresh token). */
  async exchange(fields) {
    const { domain, client_id: clientId } = this.config;
    const reply = await fetch(`${trimSlash(domain)}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, ...fields }),
    });
    const body = await reply.json().catch(() => ({}));
    if (!reply.ok || !body.id_token) throw new Error(`Sign-in failed: ${body.error_description || body.error || reply.status}`);
    sessionStorage.setItem(TOKEN_KEY, body.id_token);
    if (body.refresh_token) sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
  }

  /** Local mode: keep a pasted token. Returns an error text, or null when accepted. */
  acceptToken(raw) {
    const token = String(raw || '').trim().replace(/^Bearer\s+/i, '');
    const claims = claimsOf(token);
    if (!claims) return 'This is not a token: paste the whole line the token command printed.';
    if (!identityOf(token)) return 'This token has expired: ask the token command for a new one.';
    sessionStorage.setItem(TOKEN_KEY, token);
    return null;
  }

  /** Cognito mode: off to the hosted UI (authorization code with PKCE). */
  async redirectToSignIn() {
    const { domain, client_id: clientId, redirect_uri: redirectUri } = this.config;
    const verifier = randomString(48);
    const state = randomString(16);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, back: location.hash }));
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: this.config.scope || 'openid email profile',
      state,
      code_challenge_method: 'S256',
      code_challenge: base64UrlEncode(digest),
    });
    location.assign(`${trimSlash(domain)}/oauth2/authorize?${query}`);
  }

  /** Cognito mode, back from the hosted UI with ?code=&state=: exchange the code for tokens.
   * Returns the hash to go back to, null when this is not a return from the hosted UI. */
  async completeSignIn() {
    if (this.mode !== 'cognito') return null;
    const params = new URLSearchParams(location.search);
    const code = params.get('code');
    const error = params.get('error');
    if (!code && !error) return null;
    const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, '', location.pathname + (saved?.back || '#/today'));
    if (error) throw new Error(`Sign-in refused: ${params.get('error_description') || error}`);
    if (!saved || saved.state !== params.get('state')) throw new Error('Sign-in failed: the answer does not match this tab’s request.');
    await this.exchange({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.config.redirect_uri,
      code_verifier: saved.verifier,
    });
    return saved.back || '#/today';
  }

  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    if (this.mode === 'cognito') {
      const { domain, client_id: clientId, redirect_uri: redirectUri } = this.config;
      const query = new URLSearchParams({ client_id: clientId, logout_uri: this.config.logout_uri || redirectUri });
      location.assign(`${trimSlash(domain)}/logout?${query}`);
      return;
    }
    location.hash = '#/signin';
  }
}

function trimSlash(url) {
  return String(url || '').replace(/\/+$/, '');
}
