// Baskets and strategies. #/baskets lists and creates baskets; #/baskets/<id> shows a basket's
// strategies and starts one from a template; #/baskets/<id>/new/<TEMPLATE> and
// #/baskets/<id>/strategy/<strategy id> open the strategy editor.

import { field, fill, h, select, table, tableRow } from '../dom.js';
import { label, quantity } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';
import { draftFrom, strategyEditor } from '../strategy-editor.js';

export const title = 'Baskets';

function basketList(root, { api, navigate }) {
  const listBox = h('div', { testid: 'basket-list' }, h('p', { class: 'loading' }, 'Loading…'));
  const nameInput = h('input', { type: 'text', required: true, maxlength: '100', testid: 'basket-name' });
  const description = h('input', { type: 'text', maxlength: '500', testid: 'basket-description' });
  const status = h('p', { role: 'status', class: 'note' });
  const form = h('form', { class: 'card', testid: 'basket-form', novalidate: true },
    h('h2', {}, 'New basket'),
    h('div', { class: 'row' }, field('Name', nameInput, 'name'), field('Description', description, 'description')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', testid: 'create-basket' }, 'Create basket'), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const basket = await api.createBasket({ name: nameInput.value.trim(), description: description.value.trim() });
      navigate(`#/baskets/${encodeURIComponent(basket.basket_id)}`);
    } catch (error) {
      showErrors(form, error);
      note(status, 'Not created.', 'error');
    }
  });
  fill(root, h('h1', {}, 'Baskets'), h('section', { class: 'card' }, h('h2', {}, 'My baskets'), listBox), form);
  api.baskets().then((baskets) => {
    fill(listBox, baskets.length
      ? table(['Basket', 'Strategies', 'Default allocations', 'Visibility'], baskets.map((basket) => tableRow([
        h('a', { href: `#/baskets/${encodeURIComponent(basket.basket_id)}`, testid: 'basket-link' }, basket.name),
        quantity(basket.strategy_count), quantity(basket.default_allocation_count), label(basket.visibility),
      ])), { class: 'data' })
      : h('p', { class: 'empty' }, 'No baskets yet: create one below.'));
  }).catch((error) => fill(listBox, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  return null;
}

function basketDetail(root, { api, navigate }, basketId) {
  const heading = h('h1', {}, 'Basket');
  const strategiesBox = h('div', { testid: 'basket-strategies' }, h('p', { class: 'loading' }, 'Loading…'));
  const templateSelect = select([], '', { testid: 'template-select' });
  const templateHelp = h('p', { class: 'hint', testid: 'template-description' });
  const form = h('form', { class: 'card', testid: 'template-form' },
    h('h2', {}, 'New strategy'),
    field('Template', templateSelect, 'template'),
    templateHelp,
    h('button', { type: 'submit', class: 'primary', testid: 'use-template' }, 'Start from this template'));
  let templates = [];
  templateSelect.addEventListener('change', () => {
    templateHelp.textContent = templates.find((t) => t.name === templateSelect.value)?.description || '';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(`#/baskets/${encodeURIComponent(basketId)}/new/${encodeURIComponent(templateSelect.value)}`);
  });
  const deleteButton = h('button', { type: 'button', class: 'danger link', testid: 'delete-basket' }, 'Delete this basket');
  deleteButton.addEventListener('click', async () => {
    if (!confirm('Delete the basket with its strategies and allocations?')) return;
    try {
      await api.deleteBasket(basketId);
      navigate('#/baskets');
    } catch (error) {
      fill(strategiesBox, h('p', { class: 'form-error', role: 'alert' }, error.message));
    }
  });
  fill(root, h('p', {}, h('a', { href: '#/baskets' }, '← All baskets')), heading,
    h('div', { class: 'columns' },
      h('section', { class: 'card' }, h('h2', {}, 'Strategies'), strategiesBox, deleteButton),
      form));
  Promise.all([api.basket(basketId), api.templates()]).then(([detail, templateList]) => {
    heading.textContent = detail.basket.name;
    templates = templateList;
    fill(templateSelect, [['', 'Blank strategy'], ...templates.map((t) => [t.name, label(t.name)])]
      .map(([value, text]) => h('option', { value }, text)));
    fill(strategiesBox, detail.strategies.length
      ? table(['Strategy', 'Index', 'Legs', 'Entry', 'Exit', 'Status'], detail.strategies.map((s) => tableRow([
        h('a', { href: `#/baskets/${encodeURIComponent(basketId)}/strategy/${encodeURIComponent(s.strategy_id)}`, testid: 'strategy-link' }, s.name),
        s.underlying, quantity(s.legs.length), s.entry?.time || '–', s.exit?.time || '–', label(s.status),
      ], { 'data-strategy-id': s.strategy_id })), { class: 'data' })
      : h('p', { class: 'empty' }, 'No strategies yet: start one from a template.'));
  }).catch((error) => fill(strategiesBox, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  return null;
}

function editor(root, { api, navigate }, basketId, strategyId, templateName) {
  const back = h('p', {}, h('a', { href: `#/baskets/${encodeURIComponent(basketId)}` }, '← The basket'));
  fill(root, back, h('p', { class: 'loading' }, 'Loading…'));
  let mounted = null;
  let disposed = false;
  const load = strategyId
    ? api.strategy(strategyId).then((detail) => detail.strategy)
    : (templateName ? api.templates() : Promise.resolve([]))
      .then((templates) => draftFrom(templates.find((t) => t.name === templateName)));
  load.then((strategy) => {
    if (disposed) return;
    mounted = strategyEditor({
      api,
      strategy,
      basketId,
      onSaved: (saved) => {
        if (!strategyId) navigate(`#/baskets/${encodeURIComponent(basketId)}/strategy/${encodeURIComponent(saved.strategy_id)}`);
      },
    });
    const allocate = strategyId ? h('p', {}, h('a', { href: `#/allocations/${encodeURIComponent(basketId)}`, testid: 'allocate-link' }, 'Allocate lots to broker accounts →')) : null;
    fill(root, back, h('h1', {}, strategyId ? strategy.name : `New ${templateName ? label(templateName).toLowerCase() : 'strategy'}`), allocate, mounted.element);
  }).catch((error) => fill(root, back, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  return () => {
    disposed = true;
    if (mounted) mounted.dispose();
  };
}

export function mount(root, context, params) {
  const [basketId, kind, id] = params;
  if (!basketId) return basketList(root, context);
  if (kind === 'new') return editor(root, context, basketId, null, id || '');
  if (kind === 'strategy' && id) return editor(root, context, basketId, id, null);
  return basketDetail(root, context, basketId);
}
