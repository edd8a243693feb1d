// Allocations: lots per broker account, for the basket's default and for each of its strategies
// (a strategy without allocations of its own trades the basket's default).

import { field, fill, h, select } from '../dom.js';
import { label } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';

export const title = 'Allocations';

function accountName(account) {
  const name = account.label || label(account.broker);
  const paper = account.paper && !/paper/i.test(name) ? ' (paper)' : '';
  return `${name}${paper} · ${account.broker_account_id}`;
}

function lotsText(lots) {
  return `Saved: ${lots} ${lots === 1 ? 'lot' : 'lots'}`;
}

/** One row: an account, its lots in this scope, and a Save that creates, updates or removes. */
function allocationRow(calls, scope, account, existing) {
  let allocation = existing;
  const lots = h('input', {
    type: 'number', min: '0', max: '1000', step: '1', inputmode: 'numeric', value: allocation?.lots ?? '',
    placeholder: '0', testid: 'alloc-lots',
  });
  const status = h('span', { role: 'status', class: 'note', testid: 'alloc-status' }, allocation ? '' : 'Not allocated');
  const form = h('form', {
    class: 'alloc-row', testid: 'alloc-row', 'data-scope': scope.kind, 'data-scope-id': scope.id,
    'data-account-id': account.broker_account_id, novalidate: true,
  },
  h('span', { class: 'account' }, accountName(account), h('span', { class: `state state-${String(account.state || 'ACTIVE').toLowerCase()}` }, label(account.state || 'ACTIVE'))),
  field(`Lots on ${account.broker_account_id}`, lots, 'lots'),
  h('button', { type: 'submit', testid: 'alloc-save' }, 'Save'),
  status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const wanted = lots.value.trim() === '' ? 0 : Number(lots.value);
    note(status, 'Saving…');
    try {
      if (allocation && wanted === 0) {
        await calls.remove(allocation.allocation_id);
        allocation = null;
        note(status, 'Removed', 'ok');
      } else if (allocation) {
        allocation = await calls.update(allocation.allocation_id, { lots: wanted, version: allocation.version });
        note(status, lotsText(allocation.lots), 'ok');
      } else if (wanted > 0 || lots.value.trim() !== '') {
        allocation = await calls.add({ broker_account_id: account.broker_account_id, lots: wanted });
        note(status, lotsText(allocation.lots), 'ok');
      } else {
        note(status, 'Not allocated');
      }
      status.dataset.state = 'saved';
    } catch (error) {
      showErrors(form, error);
      note(status, 'Not saved', 'error');
      status.dataset.state = 'error';
    }
  });
  return form;
}

function section(title, hint, scope, calls, accounts, allocations) {
  const byAccount = new Map(allocations.map((a) => [a.broker_account_id, a]));
  return h('section', { class: 'card', testid: 'alloc-section', 'data-scope': scope.kind, 'data-scope-id': scope.id, 'data-name': title },
    h('h2', {}, title),
    hint ? h('p', { class: 'hint' }, hint) : null,
    accounts.map((account) => allocationRow(calls, scope, account, byAccount.get(account.broker_account_id))));
}

export function mount(root, { api, navigate }, params) {
  const [basketId] = params;
  const picker = select([], basketId || '', { testid: 'alloc-basket' });
  const body = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  picker.addEventListener('change', () => navigate(`#/allocations/${encodeURIComponent(picker.value)}`));
  fill(root, h('h1', {}, 'Allocations'),
    h('p', { class: 'hint' }, 'Lots per broker account: each leg trades its lots × these lots × the contract’s lot size.'),
    h('div', { class: 'picker' }, field('Basket', picker, 'basket')), body);
  let disposed = false;

  api.baskets().then(async (baskets) => {
    if (disposed) return;
    if (!baskets.length) {
      fill(body, h('p', { class: 'empty' }, 'No baskets yet: create one under ', h('a', { href: '#/baskets' }, 'Baskets'), '.'));
      return;
    }
    const chosen = basketId && baskets.some((b) => b.basket_id === basketId) ? basketId : baskets[0].basket_id;
    fill(picker, baskets.map((b) => h('option', { value: b.basket_id, selected: b.basket_id === chosen }, b.name)));
    const [detail, accounts, defaults] = await Promise.all([
      api.basket(chosen), api.accounts(), api.basketAllocations(chosen),
    ]);
    const strategyAllocations = await Promise.all(detail.strategies.map((s) => api.strategyAllocations(s.strategy_id)));
    if (disposed) return;
    const basketCalls = {
      add: (b) => api.addBasketAllocation(chosen, b),
      update: (id, b) => api.updateBasketAllocation(chosen, id, b),
      remove: (id) => api.deleteBasketAllocation(chosen, id),
    };
    fill(body,
      section(`${detail.basket.name}: basket default`, 'Used by every strategy of the basket that has no allocation of its own.',
        { kind: 'BASKET', id: chosen }, basketCalls, accounts, defaults),
      detail.strategies.map((strategy, index) => section(strategy.name,
        strategyAllocations[index].length ? null : 'No allocation of its own: it trades the basket default.',
        { kind: 'STRATEGY', id: strategy.strategy_id },
        {
          add: (b) => api.addStrategyAllocation(strategy.strategy_id, b),
          update: (id, b) => api.updateStrategyAllocation(strategy.strategy_id, id, b),
          remove: (id) => api.deleteStrategyAllocation(strategy.strategy_id, id),
        }, accounts, strategyAllocations[index])));
  }).catch((error) => {
    if (!disposed) fill(body, h('p', { class: 'form-error', role: 'alert' }, error.message));
  });
  return () => { disposed = true; };
}
