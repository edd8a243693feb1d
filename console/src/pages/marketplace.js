// Marketplace: published baskets to browse and subscribe to with your own broker accounts and
// lots, your subscriptions with their fee statements, and, for the publisher, the statements of
// each subscriber; admins (the Admins group) publish and unpublish their baskets here.

import { field, fill, h, select, table, tableRow } from '../dom.js';
import { label, pnl, quantity, rupees } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';

export const title = 'Marketplace';
const CATEGORIES = ['INCOME', 'DIRECTIONAL', 'HEDGED', 'VOLATILITY', 'EXPIRY_DAY', 'OTHER'];
const RISK_LEVELS = ['LOW', 'MEDIUM', 'HIGH'];

function feeText(fee) {
  const parts = [];
  if (Number(fee?.monthly_fee)) parts.push(`${rupees(fee.monthly_fee)} a month`);
  if (Number(fee?.performance_fee_pct)) parts.push(`${fee.performance_fee_pct}% of profits`);
  return parts.join(' + ') || 'Free';
}

function statementTable(statements) {
  return table(['Month', 'Subscriber', 'Exits', 'Realised P&L', 'Monthly fee', 'Performance fee', 'Due'], statements.map((s) => tableRow([
    s.month, s.subscriber_id, quantity(s.exits), pnl(s.realised_pnl), rupees(s.monthly_fee),
    `${rupees(s.performance_fee)} (${s.performance_fee_pct}%)`, rupees(s.total_due),
  ])), { class: 'data compact', testid: 'statements' });
}

function subscribeForm(api, listing, accounts, onDone) {
  const inputs = accounts.map((account) => h('input', {
    type: 'number', min: '0', step: '1', inputmode: 'numeric', placeholder: '0', testid: 'subscribe-lots', 'data-account-id': account.broker_account_id,
  }));
  const status = h('p', { role: 'status', class: 'note' });
  const form = h('form', { class: 'subscribe', testid: 'subscribe-form', novalidate: true },
    h('h4', {}, 'Subscribe with your accounts'),
    h('div', { 'data-field': 'allocations' }, accounts.map((account, index) => field(
      `${account.label || label(account.broker)} (${account.broker_account_id}): lots`, inputs[index], `allocations.${index}.lots`))),
    h('button', { type: 'submit', class: 'primary', testid: 'subscribe' }, 'Subscribe'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const allocations = inputs
      .map((input, index) => ({ broker_account_id: accounts[index].broker_account_id, lots: Number(input.value || 0) }))
      .filter((a) => a.lots > 0);
    try {
      await api.subscribe({ basket_id: listing.basket_id, allocations });
      note(status, 'Subscribed.', 'ok');
      onDone();
    } catch (error) {
      showErrors(form, error);
      note(status, 'Not subscribed.', 'error');
    }
  });
  return form;
}

function listingCard(api, listing, { accounts, mine, subscribed, reload }) {
  const details = h('div', { class: 'listing-details', hidden: true });
  const toggle = h('button', { type: 'button', 'aria-expanded': 'false', testid: 'listing-toggle' }, 'Details');
  toggle.addEventListener('click', async () => {
    const open = details.hidden;
    details.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (!open || details.childElementCount) return;
    try {
      const detail = await api.listing(listing.basket_id);
      fill(details,
        table(['Strategy', 'Index', 'Legs', 'Entry', 'Exit'], detail.strategies.map((s) => [
          s.name, s.underlying, quantity(s.legs.length), `${s.entry.time} ${s.entry.weekdays.map((day) => label(day)).join(' ')}`, s.exit?.time || '–',
        ]), { class: 'data compact' }),
        subscribed ? h('p', { class: 'note' }, 'You subscribe to this basket (below).')
          : subscribeForm(api, listing, accounts, reload),
        mine ? h('div', {}, h('h4', {}, 'Statements of your subscribers'), statementsOf(api, listing.basket_id)) : null);
    } catch (error) {
      fill(details, h('p', { class: 'form-error', role: 'alert' }, error.message));
    }
  });
  return h('article', { class: 'card listing', testid: 'listing-card', 'data-basket-id': listing.basket_id },
    h('h3', {}, listing.name, mine ? h('small', {}, ' · yours') : null),
    listing.description ? h('p', {}, listing.description) : null,
    h('dl', { class: 'stats' },
      h('dt', {}, 'Category'), h('dd', {}, label(listing.category)),
      h('dt', {}, 'Risk'), h('dd', {}, label(listing.risk_level)),
      h('dt', {}, 'Minimum capital'), h('dd', {}, rupees(listing.minimum_capital)),
      h('dt', {}, 'Fee'), h('dd', {}, feeText(listing.fee)),
      h('dt', {}, 'Indices'), h('dd', {}, (listing.underlyings || []).join(', ') || '–'),
      h('dt', {}, 'Strategies'), h('dd', {}, quantity(listing.strategy_count)),
      h('dt', {}, 'Subscribers'), h('dd', {}, quantity(listing.subscriber_count))),
    toggle, details);
}

/** A month picker (YYYY-MM, this month first) and what `load(month)` shows for it. */
function monthly(load, testid) {
  const month = h('input', { type: 'month', value: new Date().toISOString().slice(0, 7), required: true, testid: `${testid}-month` });
  const box = h('div', {});
  const show = async () => {
    if (!/^\d{4}-\d{2}$/.test(month.value)) return;
    try {
      fill(box, await load(month.value));
    } catch (error) {
      fill(box, h('p', { class: 'form-error', role: 'alert' }, error.message));
    }
  };
  const button = h('button', { type: 'button', testid, onClick: show }, 'Show');
  return h('div', { class: 'monthly' }, h('div', { class: 'row' }, field('Month', month, 'month'), button), box);
}

function statementsOf(api, basketId) {
  return monthly(async (month) => {
    const statements = await api.listingStatements(basketId, month);
    return statements.length ? statementTable(statements) : h('p', { class: 'empty' }, 'No statements for this month.');
  }, 'listing-statements');
}

function subscriptionsView(api, subscriptions, reload) {
  if (!subscriptions.length) return h('p', { class: 'empty' }, 'No subscriptions.');
  return table(['Basket', 'Status', 'Allocations', 'Fee', ''], subscriptions.map((s) => {
    const statement = monthly(async (month) => statementTable([await api.statement(s.basket_id, month)]), 'statement');
    const status = h('span', { role: 'status', class: 'note' });
    const act = (fn) => async () => {
      try {
        await fn();
        reload();
      } catch (error) {
        note(status, error.message, 'error');
      }
    };
    const ended = s.status === 'ENDED';
    const actions = h('div', { class: 'actions' },
      ended ? null : h('button', {
        type: 'button',
        onClick: act(() => api.updateSubscription(s.basket_id, { status: s.status === 'ACTIVE' ? 'PAUSED' : 'ACTIVE', version: s.version })),
      }, s.status === 'ACTIVE' ? 'Pause' : 'Resume'),
      ended ? null : h('button', { type: 'button', class: 'danger link', onClick: act(() => api.unsubscribe(s.basket_id)) }, 'Unsubscribe'),
      status);
    return tableRow([s.name, label(s.status), s.allocations.map((a) => `${a.broker_account_id}: ${a.lots}`).join(', '),
      feeText(s.fee), h('div', {}, actions, h('h4', {}, 'Fee statement'), statement)], { testid: 'subscription-row' });
  }), { class: 'data' });
}

function publishForm(api, baskets, reload) {
  const basket = select(baskets.map((b) => [b.basket_id, b.name]), '', { testid: 'publish-basket' });
  const category = select(CATEGORIES.map((c) => [c, label(c)]), 'INCOME');
  const risk = select(RISK_LEVELS.map((r) => [r, label(r)]), 'MEDIUM');
  const capital = h('input', { type: 'number', min: '0', step: '1000', value: '100000', testid: 'publish-capital' });
  const monthly = h('input', { type: 'number', min: '0', step: '100', value: '0' });
  const performance = h('input', { type: 'number', min: '0', max: '100', step: '1', value: '0' });
  const description = h('textarea', { rows: 2, maxlength: '1000' });
  const status = h('p', { role: 'status', class: 'note' });
  const form = h('form', { class: 'card', testid: 'publish-form', novalidate: true },
    h('h2', {}, 'Publish a basket (admins)'),
    h('div', { class: 'row' },
      field('Basket', basket, 'basket_id'), field('Category', category, 'category'), field('Risk level', risk, 'risk_level'),
      field('Minimum capital (₹)', capital, 'minimum_capital'), field('Monthly fee (₹)', monthly, 'fee.monthly_fee'),
      field('Performance fee (%)', performance, 'fee.performance_fee_pct')),
    field('Description', description, 'description'),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', testid: 'publish' }, 'Publish'),
      h('button', { type: 'button', class: 'link', testid: 'unpublish', onClick: async () => {
        clearErrors(form);
        try { await api.unpublish(basket.value); note(status, 'Unpublished.', 'ok'); reload(); } catch (error) { showErrors(form, error); }
      } }, 'Unpublish'),
      status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await api.publish(basket.value, {
        category: category.value, risk_level: risk.value, minimum_capital: Number(capital.value || 0),
        fee: { monthly_fee: Number(monthly.value || 0), performance_fee_pct: Number(performance.value || 0) },
        description: description.value.trim(),
      });
      note(status, 'Published.', 'ok');
      reload();
    } catch (error) {
      showErrors(form, error);
      note(status, 'Not published.', 'error');
    }
  });
  return form;
}

export function mount(root, { api, identity }) {
  const listingsBox = h('div', { class: 'listings', testid: 'listings' }, h('p', { class: 'loading' }, 'Loading…'));
  const subscriptionsBox = h('div', { testid: 'subscriptions' });
  const adminBox = h('div', {});
  let disposed = false;
  fill(root, h('h1', {}, 'Marketplace'),
    h('section', {}, h('h2', {}, 'Published baskets'), listingsBox),
    h('section', { class: 'card' }, h('h2', {}, 'My subscriptions'), subscriptionsBox),
    adminBox);

  async function load() {
    try {
      const [listings, subscriptions, accounts, baskets] = await Promise.all([
        api.listings(), api.subscriptions(), api.accounts(), api.baskets(),
      ]);
      if (disposed) return;
      const mine = new Set(baskets.map((b) => b.basket_id));
      const subscribed = new Set(subscriptions.filter((s) => s.status !== 'ENDED').map((s) => s.basket_id));
      fill(listingsBox, listings.length
        ? listings.map((listing) => listingCard(api, listing, {
          accounts, mine: mine.has(listing.basket_id), subscribed: subscribed.has(listing.basket_id), reload: load,
        }))
        : h('p', { class: 'empty' }, 'Nothing is published yet.'));
      fill(subscriptionsBox, subscriptionsView(api, subscriptions, load));
      fill(adminBox, identity?.isAdmin && baskets.length ? publishForm(api, baskets, load) : null);
    } catch (error) {
      if (!disposed) fill(listingsBox, h('p', { class: 'form-error', role: 'alert' }, error.message));
    }
  }
  load();
  return () => { disposed = true; };
}
