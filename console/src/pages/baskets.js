// Baskets and strategies. #/baskets lists and creates baskets; #/baskets/<id> shows a basket's
// strategies, starts one from a template and edits the basket (name, description, its portfolio
// rules); #/baskets/<id>/new/<TEMPLATE> and #/baskets/<id>/strategy/<strategy id> open the
// strategy editor.

import { field, fill, h, select, table, tableRow } from '../dom.js';
import { label, quantity } from '../format.js';
import { clearErrors, note, showErrors } from '../forms.js';
import { riskRulesFieldset, rulesSummary } from '../risk-rules.js';
import { draftFrom, strategyEditor } from '../strategy-editor.js';

export const title = 'Baskets';

const BASKET_RULES = {
  legend: 'Portfolio rules (₹, the whole basket)',
  hint: 'Across all of the day’s strategies of this basket: when one is hit, every strategy of the basket goes flat and enters no more that day.',
  testid: 'basket-risk',
};

function basketList(root, { api, navigate }) {
  const listBox = h('div', { testid: 'basket-list' }, h('p', { class: 'loading' }, 'Loading…'));
  const nameInput = h('input', { type: 'text', required: true, maxlength: '100', testid: 'basket-name' });
  const description = h('input', { type: 'text', maxlength: '500', testid: 'basket-description' });
  const rules = riskRulesFieldset(null, BASKET_RULES);
  const status = h('p', { role: 'status', class: 'note', testid: 'basket-status' });
  const form = h('form', { class: 'card', testid: 'basket-form', novalidate: true },
    h('h2', {}, 'New basket'),
    h('div', { class: 'row' }, field('Name', nameInput, 'name'), field('Description', description, 'description')),
    rules.element,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', testid: 'create-basket' }, 'Create basket'), status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const basket = await api.createBasket({
        name: nameInput.value.trim(), description: description.value.trim(), risk: rules.read(),
      });
      navigate(`#/baskets/${encodeURIComponent(basket.basket_id)}`);
    } catch (error) {
      const placed = showErrors(form, error);
      note(status, `Not created${placed ? ': see the marked fields' : ''}.`, 'error');
    }
  });
  fill(root, h('h1', {}, 'Baskets'), h('section', { class: 'card' }, h('h2', {}, 'My baskets'), listBox), form);
  api.baskets().then((baskets) => {
    fill(listBox, baskets.length
      ? table(['Basket', 'Strategies', 'Default allocations', 'Portfolio rules', 'Visibility'], baskets.map((basket) => tableRow([
        h('a', { href: `#/baskets/${encodeURIComponent(basket.basket_id)}`, testid: 'basket-link' }, basket.name),
        quantity(basket.strategy_count), quantity(basket.default_allocation_count),
        { content: rulesSummary(basket.risk), testid: 'basket-rules' }, label(basket.visibility),
      ])), { class: 'data' })
      : h('p', { class: 'empty' }, 'No baskets yet: create one below.'));
  }).catch((error) => fill(listBox, h('p', { class: 'form-error', role: 'alert' }, error.message)));
  return null;
}

/**
 * The basket's own settings: name, description and portfolio rules, saved with the basket's
 * version (PUT replaces the rules: the empty ones are removed). `onSaved(basket)` after each save.
 */
function settingsForm(api, basketId, onSaved) {
  let version = null;
  const nameInput = h('input', { type: 'text', required: true, maxlength: '100', testid: 'basket-edit-name' });
  const description = h('input', { type: 'text', maxlength: '1000', testid: 'basket-edit-description' });
  const rules = riskRulesFieldset(null, BASKET_RULES);
  const saveButton = h('button', { type: 'submit', class: 'primary', testid: 'save-basket', disabled: true }, 'Save basket');
  const status = h('p', { role: 'status', class: 'note', testid: 'basket-status' });
  const form = h('form', { class: 'card', testid: 'basket-settings-form', novalidate: true },
    h('h2', {}, 'Basket settings'),
    h('div', { class: 'row' }, field('Name', nameInput, 'name'), field('Description', description, 'description')),
    rules.element,
    h('div', { class: 'actions' }, saveButton, status));

  function show(basket) {
    version = basket.version;
    nameInput.value = basket.name;
    description.value = basket.description || '';
    rules.show(basket.risk);
    saveButton.disabled = false;
  }

  form.addEventListener('input', () => note(status, 'Unsaved changes.'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    saveButton.disabled = true;
    note(status, 'Saving…');
    try {
      const saved = await api.updateBasket(basketId, {
        version, name: nameInput.value.trim(), description: description.value.trim(), risk: rules.read(),
      });
      show(saved);
      note(status, 'Saved.', 'ok');
      onSaved(saved);
    } catch (error) {
      if (error.status === 409) {
        await api.basket(basketId).then((detail) => show(detail.basket)).catch(() => {});
        note(status, 'Changed elsewhere meanwhile: the stored settings are shown again; make your change once more.', 'error');
        return;
      }
      const placed = showErrors(form, error);
      note(status, `Not saved${placed ? ': see the marked fields' : ''}.`, 'error');
    } finally {
      saveButton.disabled = version === null;
    }
  });
  return { element: form, show };
}

function basketDetail(root, { api, navigate }, basketId) {
  const heading = h('h1', {}, 'Basket');
  const settings = settingsForm(api, basketId, (basket) => { heading.textContent = basket.name; });
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
      h('div', {}, form, settings.element)));
  Promise.all([api.basket(basketId), api.templates()]).then(([detail, templateList]) => {
    heading.textContent = detail.basket.name;
    settings.show(detail.basket);
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
