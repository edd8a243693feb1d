// The strategy editor: name and index, legs (side, type, strike selection, expiry kind, lots,
// stop-loss, re-entry, wait and trade), schedule, risk rules, and the strategy's re-entry and move
// to cost (each optional rule off until switched on). As you edit, the draft is priced by
// POST /options/strategy-preview (debounced) and its payoff at expiry and Greeks are redrawn;
// saving creates or updates the strategy, and the API's messages appear beside their fields.

import { ApiError } from './api.js';
import { debounce, field, fill, h, select, table, tableRow, uniqueId } from './dom.js';
import { decimal, label, price, rupees, strike } from './format.js';
import { clearErrors, note, showErrors } from './forms.js';
import { payoffChart } from './payoff.js';

const UNDERLYINGS = ['NIFTY', 'BANKNIFTY', 'FINNIFTY', 'MIDCPNIFTY', 'NIFTYNXT50', 'SENSEX', 'BANKEX'];
const EXPIRIES = ['CURRENT_WEEKLY', 'NEXT_WEEKLY', 'CURRENT_MONTHLY', 'NEXT_MONTHLY'];
const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
const MAX_LEGS = 6;
const PREVIEW_DELAY_MS = 300;
const STRIKE_METHODS = [
  ['ATM_OFFSET', 'ATM ± steps'], ['PREMIUM', 'Premium near'], ['PREMIUM_AT_LEAST', 'Premium at least'],
  ['PREMIUM_AT_MOST', 'Premium at most'], ['DELTA', 'Delta near'], ['STRADDLE_WIDTH', 'ATM ± straddle width'],
  ['FIXED', 'Fixed strike'],
];
// The one StrikeSelection field each method sets (shared_utils/models/strategy.py, docs/strike-selection.md).
const METHOD_FIELD = {
  ATM_OFFSET: 'steps',
  PREMIUM: 'target_premium',
  PREMIUM_AT_LEAST: 'target_premium',
  PREMIUM_AT_MOST: 'target_premium',
  DELTA: 'target_delta',
  STRADDLE_WIDTH: 'straddle_multiple',
  FIXED: 'strike',
};
const METHOD_INPUT = {
  steps: { label: 'Steps from ATM', step: '1', min: '-50', max: '50' },
  target_premium: { label: 'Target premium (₹)', step: '0.05', min: '0' },
  target_delta: { label: 'Target delta', step: '0.01', min: '0', max: '1' },
  straddle_multiple: {
    label: 'Straddle multiple', step: '0.01', min: '-5', max: '5',
    hint: '× the ATM straddle premium from ATM (+ higher, − lower strike)',
  },
  strike: { label: 'Strike', step: '50', min: '0' },
};
const RE_ENTRY_MODES = [['RE_ENTER', 'Re-enter the same strike'], ['RE_EXECUTE', 'Re-execute (strikes chosen again)']];
const RE_ENTRY_WHEN = [['IMMEDIATELY', 'Immediately'], ['PREMIUM_RETURNS', 'When the premium returns to entry']];
const RE_ENTRY_AFTER = [['STOP_LOSS', 'a stop-loss'], ['TARGET', 'the target']];
const MAX_RE_ENTRIES = 10;

/** A blank draft, or one from a template (`{name, legs}`). */
export function draftFrom(template) {
  return {
    name: template ? label(template.name) : '',
    underlying: 'NIFTY',
    product: 'MIS',
    status: 'ACTIVE',
    legs: (template?.legs || [{ action: 'SELL', option_type: 'CE', strike: { method: 'ATM_OFFSET', steps: 0 }, expiry: 'CURRENT_WEEKLY', lots: 1 }])
      .map((leg) => ({ ...leg, strike: { ...leg.strike } })),
    entry: { time: '09:20', weekdays: ['MON', 'TUE', 'WED', 'THU', 'FRI'] },
    exit: { time: '15:15', days_before_expiry: null },
    risk: { mtm_stop_loss: null, mtm_target: null, trailing_stop_loss: null },
  };
}

function numberInput(value, attrs = {}) {
  return h('input', { type: 'number', inputmode: 'decimal', value: value ?? '', ...attrs });
}

/** `{[key]: value}` when the value is set, else nothing (to spread into a request body). */
function optional(key, value) {
  return value == null ? {} : { [key]: value };
}

function numberOf(input) {
  const text = input.value.trim();
  if (text === '') return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : text; // the API names what is wrong with it
}

function timeInput(value, attrs = {}) {
  return h('input', { type: 'time', value: value ? String(value).slice(0, 5) : '', ...attrs });
}

/** A checkbox with its label; `name` (a `data-field`) places the API's messages about the rule. */
function checkbox(text, checked, { name, testid } = {}) {
  const box = h('input', { type: 'checkbox', id: uniqueId('check'), checked, testid });
  const wrapper = h('div', { class: 'field-check', 'data-field': name || null }, h('label', { for: box.id, class: 'check' }, box, text));
  return { box, wrapper };
}

/** An optional rule: a switch (checkbox or select with an empty "none") that reveals its inputs. */
function optionalRule(switchControl, isOn, details) {
  const show = () => { details.hidden = !isOn(); };
  switchControl.addEventListener('change', show);
  show();
  return details;
}

/**
 * The `re_entry` inputs (ReEntry), off unless `rule` is set. `name`: the API's field prefix
 * (`re_entry`, `legs.0.re_entry`); `after`: the exits the trader may choose from (a leg re-enters
 * after its own stop-loss only, so it gets none to choose). `read()` is the rule or null.
 */
function reEntryRule(rule, { name, testid, text, hint, after = null }) {
  const toggle = checkbox(text, Boolean(rule), { testid });
  const mode = select(RE_ENTRY_MODES, rule?.mode || 'RE_ENTER', { testid: `${testid}-mode` });
  const when = select(RE_ENTRY_WHEN, rule?.when || 'IMMEDIATELY', { testid: `${testid}-when` });
  const maxPerDay = numberInput(rule?.max_per_day ?? 1, { step: '1', min: '1', max: String(MAX_RE_ENTRIES), inputmode: 'numeric', testid: `${testid}-max` });
  const until = timeInput(rule?.until, { testid: `${testid}-until` });
  const chosen = new Set(rule?.after || ['STOP_LOSS']);
  const afterBoxes = (after || []).map(([value, label]) => {
    const box = h('input', { type: 'checkbox', value, id: uniqueId('check'), checked: chosen.has(value), testid: `${testid}-after-${value}` });
    return { box, label };
  });
  const details = h('div', { class: 'row rule-details' },
    field('Re-entry mode', mode, `${name}.mode`),
    field('Re-enter', when, `${name}.when`),
    field('Re-entries a day', maxPerDay, `${name}.max_per_day`, `1 to ${MAX_RE_ENTRIES}`),
    field('No re-entry from (IST)', until, `${name}.until`),
    after ? h('fieldset', { class: 'choices', 'data-field': `${name}.after` }, h('legend', {}, 'After'),
      afterBoxes.map(({ box, label }) => h('label', { for: box.id, class: 'check' }, box, label))) : null);
  const element = h('fieldset', { class: 'rule', 'data-field': name },
    h('legend', {}, 'Re-entry'),
    toggle.wrapper,
    hint ? h('small', { class: 'hint' }, hint) : null,
    optionalRule(toggle.box, () => toggle.box.checked, details));
  const read = () => {
    if (!toggle.box.checked) return null;
    return {
      mode: mode.value,
      when: when.value,
      max_per_day: numberOf(maxPerDay),
      until: until.value || null,
      after: after ? afterBoxes.filter(({ box }) => box.checked).map(({ box }) => box.value) : ['STOP_LOSS'],
    };
  };
  return { element, read };
}

/** A leg's `wait_and_trade` (WaitAndTrade), off unless `rule` is set; `read()` is the rule or null. */
function waitAndTradeRule(rule, index) {
  const name = `legs.${index}.wait_and_trade`;
  const direction = select([['', 'At the entry time'], ['UP', 'Once its premium rises'], ['DOWN', 'Once its premium falls']],
    rule?.direction || '', { testid: `leg-${index}-wait` });
  const kind = select([['PERCENT', '%'], ['POINTS', 'Points']], rule?.kind || 'PERCENT', { testid: `leg-${index}-wait-kind` });
  const value = numberInput(rule?.value, { step: '0.05', min: '0', testid: `leg-${index}-wait-value` });
  const timeout = numberInput(rule?.timeout_minutes ?? 30, { step: '1', min: '1', max: '375', inputmode: 'numeric', testid: `leg-${index}-wait-timeout` });
  const details = h('div', { class: 'row rule-details' },
    field('By', value, `${name}.value`),
    field('In', kind, `${name}.kind`),
    field('Give up after (minutes)', timeout, `${name}.timeout_minutes`, 'Not entered if the move has not come'));
  const element = h('fieldset', { class: 'rule', 'data-field': name },
    h('legend', {}, 'Wait and trade'),
    h('div', { class: 'row' }, field('Enter the leg', direction, `${name}.direction`, 'A move from its premium at the entry time')),
    optionalRule(direction, () => Boolean(direction.value), details));
  const read = () => (direction.value
    ? { direction: direction.value, kind: kind.value, value: numberOf(value), timeout_minutes: numberOf(timeout) }
    : null);
  return { element, read };
}

/** The strategy's `move_to_cost` (MoveToCost), off unless `rule` is set; `read()` is the rule or null. */
function moveToCostRule(rule) {
  const toggle = checkbox('Move the open legs’ stop-losses to their entry price', Boolean(rule), { testid: 'move-to-cost' });
  const afterLegStop = checkbox('Once any leg’s stop-loss fires', rule ? rule.after_leg_stop : true, { name: 'move_to_cost.after_leg_stop', testid: 'move-to-cost-after-leg-stop' });
  const atProfit = numberInput(rule?.at_profit, { step: '100', min: '0', testid: 'move-to-cost-at-profit' });
  const details = h('div', { class: 'row rule-details' },
    afterLegStop.wrapper,
    field('Once MTM profit reaches (₹)', atProfit, 'move_to_cost.at_profit', 'Empty: not on profit'));
  const element = h('fieldset', { class: 'rule', 'data-field': 'move_to_cost' },
    h('legend', {}, 'Move to cost'),
    toggle.wrapper,
    optionalRule(toggle.box, () => toggle.box.checked, details));
  const read = () => (toggle.box.checked
    ? { after_leg_stop: afterLegStop.box.checked, at_profit: numberOf(atProfit) }
    : null);
  return { element, read };
}

function legBlock(leg, index, onRemove) {
  const name = (part) => `legs.${index}.${part}`;
  const strikeInputs = {};
  const methodSelect = select(STRIKE_METHODS, leg.strike?.method || 'ATM_OFFSET', { testid: `leg-${index}-strike-method` });
  const strikeParts = [field('Strike by', methodSelect, name('strike.method'))];
  for (const [key, spec] of Object.entries(METHOD_INPUT)) {
    const input = numberInput(leg.strike?.[key], { step: spec.step, min: spec.min, max: spec.max, testid: `leg-${index}-strike-${key}` });
    strikeInputs[key] = input;
    const wrapper = field(spec.label, input, name(`strike.${key}`), spec.hint);
    wrapper.dataset.strikeParam = key;
    strikeParts.push(wrapper);
  }
  const showMethod = () => {
    const wanted = METHOD_FIELD[methodSelect.value];
    for (const wrapper of strikeParts.slice(1)) wrapper.hidden = wrapper.dataset.strikeParam !== wanted;
  };
  methodSelect.addEventListener('change', showMethod);
  showMethod();

  const stopKind = select([['', 'None'], ['PERCENT', '% of premium'], ['POINTS', 'Points']], leg.stop_loss?.kind || '', { testid: `leg-${index}-sl-kind` });
  const stopValue = numberInput(leg.stop_loss?.value, { step: '0.05', min: '0', testid: `leg-${index}-sl-value` });
  const controls = {
    action: select(['SELL', 'BUY'], leg.action, { testid: `leg-${index}-action` }),
    option_type: select([['CE', 'Call (CE)'], ['PE', 'Put (PE)']], leg.option_type, { testid: `leg-${index}-type` }),
    expiry: select(EXPIRIES.map((e) => [e, label(e)]), leg.expiry, { testid: `leg-${index}-expiry` }),
    lots: numberInput(leg.lots ?? 1, { step: '1', min: '1', max: '100', inputmode: 'numeric', testid: `leg-${index}-lots` }),
    method: methodSelect,
    strikeInputs,
    stopKind,
    stopValue,
    reEntry: reEntryRule(leg.re_entry, {
      name: name('re_entry'), testid: `leg-${index}-re-entry`, text: 'Re-enter after this leg’s stop-loss',
      hint: 'Needs the leg’s stop-loss; an intraday strategy only.',
    }),
    wait: waitAndTradeRule(leg.wait_and_trade, index),
  };
  const element = h('fieldset', { class: 'leg', 'data-field': `legs.${index}`, testid: 'leg' },
    h('legend', {}, `Leg ${index + 1}`),
    h('div', { class: 'row' },
      field('Side', controls.action, name('action')),
      field('Type', controls.option_type, name('option_type')),
      field('Expiry', controls.expiry, name('expiry')),
      field('Lots', controls.lots, name('lots'))),
    h('div', { class: 'row', 'data-field': name('strike') }, strikeParts),
    h('div', { class: 'row', 'data-field': name('stop_loss') },
      field('Stop-loss', stopKind, name('stop_loss.kind')),
      field('Stop-loss value', stopValue, name('stop_loss.value'))),
    controls.reEntry.element,
    controls.wait.element,
    h('button', { type: 'button', class: 'link', onClick: onRemove, testid: `leg-${index}-remove` }, `Remove leg ${index + 1}`));
  return { element, controls };
}

function readLeg(controls) {
  const method = controls.method.value;
  const key = METHOD_FIELD[method];
  const leg = {
    action: controls.action.value,
    option_type: controls.option_type.value,
    strike: { method, [key]: numberOf(controls.strikeInputs[key]) },
    expiry: controls.expiry.value,
    lots: numberOf(controls.lots),
  };
  if (controls.stopKind.value) leg.stop_loss = { kind: controls.stopKind.value, value: numberOf(controls.stopValue) };
  const reEntry = controls.reEntry.read();
  if (reEntry) leg.re_entry = reEntry;
  const wait = controls.wait.read();
  if (wait) leg.wait_and_trade = wait;
  return leg;
}

function previewView(preview) {
  const greeks = preview.greeks;
  const payoff = preview.payoff;
  const spot = preview.underlying_price ?? preview.spot;
  return [
    h('p', { class: 'subtitle', testid: 'preview-summary' },
      `${preview.underlying} at ${price(spot)} · expiry ${preview.expiry} · priced ${new Date(preview.priced_at || preview.quoted_at).toLocaleTimeString('en-IN', { timeZone: 'Asia/Kolkata', hour12: false })} IST · for one allocated lot`),
    payoff ? payoffChart(payoff, { spot, title: `Payoff at expiry of the ${preview.underlying} draft` })
      : h('p', { class: 'note' }, 'The legs expire on different days: no single payoff at expiry.'),
    payoff ? h('dl', { class: 'stats', testid: 'payoff-stats' },
      h('dt', {}, 'Max profit'), h('dd', { testid: 'max-profit' }, payoff.max_profit == null ? 'Unlimited' : rupees(payoff.max_profit)),
      h('dt', {}, 'Max loss'), h('dd', { testid: 'max-loss' }, payoff.max_loss == null ? 'Unlimited' : rupees(payoff.max_loss)),
      h('dt', {}, 'Breakevens'), h('dd', {}, (payoff.breakevens || []).map(strike).join(', ') || '–')) : null,
    greeks ? h('dl', { class: 'stats', testid: 'greeks' },
      h('dt', {}, 'Delta (₹/pt)'), h('dd', { testid: 'greek-delta' }, decimal(greeks.delta)),
      h('dt', {}, 'Gamma'), h('dd', { testid: 'greek-gamma' }, decimal(greeks.gamma)),
      h('dt', {}, 'Theta (₹/day)'), h('dd', { testid: 'greek-theta' }, rupees(greeks.theta_per_day ?? greeks.theta)),
      h('dt', {}, 'Vega (₹/vol pt)'), h('dd', { testid: 'greek-vega' }, rupees(greeks.vega_per_point ?? greeks.vega)))
      : h('p', { class: 'note' }, 'Greeks unavailable: a leg has no time value left.'),
    table(['Leg', 'Side', 'Contract', 'Lots × size', 'Premium', 'IV'], (preview.legs || []).map((leg) => [
      leg.leg_no, leg.side, `${strike(leg.strike)} ${leg.option_type} ${leg.expiry || ''}`,
      `${leg.lots} × ${leg.lot_size}`, price(leg.premium), leg.iv == null ? '–' : `${(leg.iv * 100).toFixed(1)}%`,
    ]), { class: 'data compact', testid: 'preview-legs' }),
  ];
}

/** `strategy`: an existing strategy (edit) or a draft (create in `basketId`). */
export function strategyEditor({ api, strategy, basketId, onSaved }) {
  const editing = Boolean(strategy.strategy_id);
  let version = strategy.version;
  let legs = strategy.legs.map((leg) => ({ ...leg }));
  let legControls = [];
  let disposed = false;
  let previewSeq = 0;

  const nameInput = h('input', { type: 'text', value: strategy.name, required: true, maxlength: '100', testid: 'strategy-name' });
  const underlying = select(UNDERLYINGS, strategy.underlying, { testid: 'strategy-underlying' });
  const product = select([['MIS', 'Intraday (MIS)'], ['NRML', 'Carry forward (NRML)']], strategy.product, { testid: 'strategy-product' });
  const status = select([['ACTIVE', 'Active'], ['PAUSED', 'Paused']], strategy.status, { testid: 'strategy-status' });
  const entryTime = h('input', { type: 'time', value: strategy.entry?.time?.slice(0, 5) || '09:20', required: true, testid: 'entry-time' });
  const weekdayBoxes = WEEKDAYS.map((day) => h('input', { type: 'checkbox', value: day, checked: (strategy.entry?.weekdays || []).includes(day), id: `weekday-${day}`, testid: `weekday-${day}` }));
  const exitTime = h('input', { type: 'time', value: strategy.exit?.time?.slice(0, 5) || '', testid: 'exit-time' });
  const exitDays = numberInput(strategy.exit?.days_before_expiry, { step: '1', min: '0', max: '30', inputmode: 'numeric', testid: 'exit-days' });
  const stopLoss = numberInput(strategy.risk?.mtm_stop_loss, { step: '100', min: '0', testid: 'risk-stop-loss' });
  const target = numberInput(strategy.risk?.mtm_target, { step: '100', min: '0', testid: 'risk-target' });
  const trailActivate = numberInput(strategy.risk?.trailing_stop_loss?.activate_at, { step: '100', min: '0', testid: 'risk-trail-activate' });
  const trailBy = numberInput(strategy.risk?.trailing_stop_loss?.trail_by, { step: '100', min: '0', testid: 'risk-trail-by' });
  const reEntry = reEntryRule(strategy.re_entry, {
    name: 're_entry', testid: 're-entry', text: 'Enter every leg again after an exit', after: RE_ENTRY_AFTER,
    hint: 'An intraday strategy only (MIS, exit on the day).',
  });
  const moveToCost = moveToCostRule(strategy.move_to_cost);

  const legsBox = h('div', { class: 'legs', 'data-field': 'legs' });
  const addLeg = h('button', { type: 'button', testid: 'add-leg' }, 'Add a leg');
  const saveNote = h('p', { role: 'status', class: 'note', testid: 'save-status' });
  const previewStatus = h('p', { role: 'status', class: 'note', testid: 'preview-status' }, 'Pricing the draft…');
  const previewBox = h('div', { class: 'preview-body', testid: 'preview' });

  const form = h('form', { class: 'editor', testid: 'strategy-form', novalidate: true },
    h('div', { class: 'row' },
      field('Name', nameInput, 'name'),
      field('Index', underlying, 'underlying'),
      field('Product', product, 'product'),
      field('Status', status, 'status')),
    h('h3', {}, 'Legs'),
    legsBox,
    addLeg,
    h('h3', {}, 'Schedule (IST)'),
    h('div', { class: 'row' },
      field('Entry time', entryTime, 'entry.time'),
      h('fieldset', { class: 'weekdays', 'data-field': 'entry.weekdays' }, h('legend', {}, 'Entry days'),
        weekdayBoxes.map((box) => h('label', { for: box.id, class: 'check' }, box, label(box.value).slice(0, 3)))),
      field('Exit time', exitTime, 'exit.time', 'Empty: no scheduled exit'),
      field('Exit days before expiry', exitDays, 'exit.days_before_expiry', 'Empty: the entry day')),
    h('h3', {}, 'Risk rules (₹, whole strategy)'),
    h('div', { class: 'row', 'data-field': 'risk' },
      field('Stop-loss (MTM loss)', stopLoss, 'risk.mtm_stop_loss'),
      field('Target (MTM profit)', target, 'risk.mtm_target'),
      h('div', { class: 'row', 'data-field': 'risk.trailing_stop_loss' },
        field('Trail from profit', trailActivate, 'risk.trailing_stop_loss.activate_at'),
        field('Trail by', trailBy, 'risk.trailing_stop_loss.trail_by'))),
    h('h3', {}, 'Re-entry and move to cost (whole strategy)'),
    reEntry.element,
    moveToCost.element,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', testid: 'save-strategy' }, editing ? 'Save changes' : 'Create strategy'),
      saveNote));

  /** The draft as StrategyCreate: an optional rule that is off is left out. */
  function body() {
    const exit = exitTime.value ? { time: exitTime.value, days_before_expiry: numberOf(exitDays) } : null;
    const trailing = trailActivate.value || trailBy.value
      ? { activate_at: numberOf(trailActivate), trail_by: numberOf(trailBy) } : null;
    return {
      name: nameInput.value.trim(),
      underlying: underlying.value,
      product: product.value,
      status: status.value,
      legs: legControls.map(readLeg),
      entry: { time: entryTime.value, weekdays: weekdayBoxes.filter((box) => box.checked).map((box) => box.value) },
      exit,
      risk: { mtm_stop_loss: numberOf(stopLoss), mtm_target: numberOf(target), trailing_stop_loss: trailing },
      ...optional('re_entry', reEntry.read()),
      ...optional('move_to_cost', moveToCost.read()),
    };
  }

  /** An update (StrategyUpdate): the same, with null for a rule that is off, which removes it. */
  function updateBody() {
    return { re_entry: null, move_to_cost: null, ...body(), version };
  }

  function renderLegs() {
    legControls = [];
    const blocks = legs.map((leg, index) => {
      const block = legBlock(leg, index, () => {
        legs = legControls.map(readLeg);
        legs.splice(index, 1);
        renderLegs();
        schedulePreview();
      });
      legControls.push(block.controls);
      return block.element;
    });
    fill(legsBox, blocks);
    addLeg.disabled = legs.length >= MAX_LEGS;
  }

  async function runPreview() {
    const draft = body();
    const seq = ++previewSeq;
    const missing = !draft.name ? 'a name' : !draft.legs.length ? 'a leg' : !draft.entry.time ? 'an entry time'
      : !draft.entry.weekdays.length ? 'an entry day' : null;
    if (missing) {
      note(previewStatus, `The preview needs ${missing}.`, 'info');
      return;
    }
    note(previewStatus, 'Pricing the draft…', 'info');
    try {
      const preview = await api.preview(draft);
      if (disposed || seq !== previewSeq) return;
      clearErrors(form);
      note(previewStatus, 'Priced now on the platform’s market.', 'ok');
      previewStatus.dataset.state = 'ready';
      fill(previewBox, previewView(preview));
    } catch (error) {
      if (disposed || seq !== previewSeq) return;
      previewStatus.dataset.state = 'error';
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        note(previewStatus, 'Preview unavailable (this platform has no preview route).', 'warn');
        fill(previewBox);
      } else if (error instanceof ApiError && error.status === 422) {
        showErrors(form, error);
        note(previewStatus, 'Fix the fields marked to see the payoff.', 'warn');
      } else {
        note(previewStatus, `Preview unavailable: ${error.message}`, 'warn');
      }
    }
  }
  const schedulePreview = debounce(runPreview, PREVIEW_DELAY_MS);

  addLeg.addEventListener('click', () => {
    legs = legControls.map(readLeg);
    const last = legs[legs.length - 1];
    legs.push(last ? { ...last, strike: { ...last.strike } } : draftFrom().legs[0]);
    renderLegs();
    schedulePreview();
  });
  form.addEventListener('input', () => {
    if (saveNote.dataset.state !== 'changed') {
      note(saveNote, 'Unsaved changes.', 'info');
      saveNote.dataset.state = 'changed';
    }
    schedulePreview();
  });
  form.addEventListener('change', schedulePreview);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    schedulePreview.cancel();
    clearErrors(form);
    note(saveNote, 'Saving…', 'info');
    try {
      const saved = editing
        ? await api.updateStrategy(strategy.strategy_id, updateBody())
        : await api.createStrategy(basketId, body());
      version = saved.version;
      note(saveNote, editing ? 'Saved.' : 'Strategy created.', 'ok');
      saveNote.dataset.state = 'saved';
      if (onSaved) onSaved(saved);
    } catch (error) {
      const placed = showErrors(form, error);
      note(saveNote, error.status === 409
        ? 'Changed elsewhere meanwhile: reload the strategy and edit again.'
        : `Not saved${placed ? ': see the marked fields' : ''}.`, 'error');
    }
  });

  renderLegs();
  const element = h('div', { class: 'editor-layout' },
    h('section', { class: 'card' }, h('h2', {}, editing ? `Edit ${strategy.name}` : 'New strategy'), form),
    h('section', { class: 'card preview', 'aria-live': 'polite' }, h('h2', {}, 'Payoff and Greeks'), previewStatus, previewBox));
  runPreview();
  return {
    element,
    dispose: () => {
      disposed = true;
      schedulePreview.cancel();
    },
  };
}
