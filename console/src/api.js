// The REST client: every call carries the bearer token; every answer is JSON; every error is an
// ApiError with the API's `code`, `message` and field `details` ([{field, issue}]), so a form can
// show each issue beside the field it names (docs/openapi.json, shared_utils/api/errors.py).

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

export class Api {
  /** `baseUrl`: '' for the console's own origin, or the API's origin. */
  constructor({ baseUrl = '', getToken, onUnauthorized }) {
    this.baseUrl = String(baseUrl || '').replace(/\/+$/, '');
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, { query, body, headers } = {}) {
    const search = query ? new URLSearchParams(
      Object.entries(query).filter(([, value]) => value !== null && value !== undefined && value !== ''),
    ).toString() : '';
    const url = `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
    const init = { method, headers: { Accept: 'application/json', ...(headers || {}) } };
    const token = await this.getToken();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let reply;
    try {
      reply = await fetch(url, init);
    } catch {
      throw new ApiError(0, 'NETWORK', 'The platform cannot be reached; check that it is running.');
    }
    if (reply.status === 204) return null;
    const text = await reply.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (reply.ok) return data;
    const error = new ApiError(
      reply.status,
      data?.code || `HTTP_${reply.status}`,
      data?.message || `${reply.status} ${reply.statusText}`,
      data?.details,
    );
    if (reply.status === 401 && this.onUnauthorized) this.onUnauthorized(error);
    throw error;
  }

  get(path, query) { return this.request('GET', path, { query }); }

  post(path, body, query) { return this.request('POST', path, { body, query }); }

  put(path, body) { return this.request('PUT', path, { body }); }

  delete(path, query) { return this.request('DELETE', path, { query }); }

  /** Every item of a paged list route (`{items, next_token}`). */
  async all(path, query = {}, maxPages = 20) {
    const items = [];
    let nextToken = null;
    for (let page = 0; page < maxPages; page += 1) {
      const reply = await this.get(path, { ...query, next_token: nextToken });
      items.push(...(reply?.items || []));
      nextToken = reply?.next_token;
      if (!nextToken) break;
    }
    return items;
  }
}

const path = encodeURIComponent;

/** The routes the console uses, by name (docs/openapi.json). */
export function routes(api) {
  return {
    baskets: () => api.all('/options/baskets'),
    basket: (id) => api.get(`/options/baskets/${path(id)}`),
    createBasket: (body) => api.post('/options/baskets', body),
    updateBasket: (id, body) => api.put(`/options/baskets/${path(id)}`, body),
    deleteBasket: (id) => api.delete(`/options/baskets/${path(id)}`),
    basketAllocations: (id) => api.all(`/options/baskets/${path(id)}/brokers`),
    addBasketAllocation: (id, body) => api.post(`/options/baskets/${path(id)}/brokers`, body),
    updateBasketAllocation: (id, allocationId, body) => api.put(`/options/baskets/${path(id)}/brokers/${path(allocationId)}`, body),
    deleteBasketAllocation: (id, allocationId) => api.delete(`/options/baskets/${path(id)}/brokers/${path(allocationId)}`),
    createStrategy: (basketId, body) => api.post(`/options/baskets/${path(basketId)}/strategies`, body),
    strategies: () => api.all('/options/strategies'),
    strategy: (id) => api.get(`/options/strategies/${path(id)}`),
    updateStrategy: (id, body) => api.put(`/options/strategies/${path(id)}`, body),
    deleteStrategy: (id) => api.delete(`/options/strategies/${path(id)}`),
    strategyAllocations: (id) => api.all(`/options/strategies/${path(id)}/brokers`),
    addStrategyAllocation: (id, body) => api.post(`/options/strategies/${path(id)}/brokers`, body),
    updateStrategyAllocation: (id, allocationId, body) => api.put(`/options/strategies/${path(id)}/brokers/${path(allocationId)}`, body),
    deleteStrategyAllocation: (id, allocationId) => api.delete(`/options/strategies/${path(id)}/brokers/${path(allocationId)}`),
    templates: () => api.all('/options/strategy-templates'),
    preview: (body) => api.post('/options/strategy-preview', body),
    executions: (query) => api.all('/options/executions', { limit: 100, ...query }),
    positions: (openOnly = false) => api.get('/options/positions', { open_only: String(openOnly) }),
    riskSettings: () => api.get('/options/risk-settings'),
    updateRiskSettings: (body) => api.put('/options/risk-settings', body),
    killSwitch: () => api.get('/options/kill-switch'),
    pressKillSwitch: () => api.post('/options/kill-switch'),
    rearmKillSwitch: () => api.delete('/options/kill-switch'),
    accounts: () => api.all('/options/broker-accounts'),
    linkAccount: (body) => api.post('/options/broker-accounts', body),
    loginAccount: (id) => api.post(`/options/broker-accounts/${path(id)}/login`),
    listings: () => api.all('/options/marketplace/listings'),
    listing: (basketId) => api.get(`/options/marketplace/listings/${path(basketId)}`),
    publish: (basketId, body) => api.put(`/options/marketplace/listings/${path(basketId)}`, body),
    unpublish: (basketId) => api.delete(`/options/marketplace/listings/${path(basketId)}`),
    listingStatements: (basketId, month) => api.all(`/options/marketplace/listings/${path(basketId)}/statements`, { month }),
    subscriptions: () => api.all('/options/subscriptions'),
    subscribe: (body) => api.post('/options/subscriptions', body),
    updateSubscription: (basketId, body) => api.put(`/options/subscriptions/${path(basketId)}`, body),
    unsubscribe: (basketId) => api.delete(`/options/subscriptions/${path(basketId)}`),
    statement: (basketId, month) => api.get(`/options/subscriptions/${path(basketId)}/statement`, { month }),
    notificationSettings: () => api.get('/options/notification-settings'),
    updateNotificationSettings: (body) => api.put('/options/notification-settings', body),
    testNotification: () => api.post('/options/notification-settings/test'),
    webhooks: () => api.all('/options/webhooks'),
    createWebhook: (body) => api.post('/options/webhooks', body),
    deleteWebhook: (id) => api.delete(`/options/webhooks/${path(id)}`),
    rotateWebhook: (id) => api.post(`/options/webhooks/${path(id)}/rotate`),
    webhookSignals: (id) => api.get(`/options/webhooks/${path(id)}/signals`, { limit: 20 }),
  };
}
