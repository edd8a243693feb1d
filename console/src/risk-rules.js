// Portfolio rules (RiskRules, docs/portfolio-exits.md): an MTM stop-loss, target and trailing stop
// in rupees across all of the day's strategies of a basket, or of the user. One fieldset for the
// basket form and the Risk page: each input optional (empty: no rule), each carrying the API's
// field name (`risk.mtm_stop_loss`, `risk.trailing_stop_loss.trail_by`) so that forms.js puts a
// 422's message beside it. Also the words for a scope's day (its trailing peak, its exit).

import { field, h } from './dom.js';
import { label, pnl, rupees, time } from './format.js';

const EXIT_TEXT = {
  PORTFOLIO_STOP_LOSS: 'stop-loss',
  PORTFOLIO_TARGET: 'target',
  PORTFOLIO_TRAILING_STOP_LOSS: 'trailing stop',
};

function amountInput(value, testid) {
  return h('input', { type: 'number', inputmode: 'decimal', step: '100', min: '0', value: value ?? '', testid });
}

/** A rupee amount as typed: null when empty, else a number (or the text, which the API names). */
function amountOf(input) {
  const text = input.value.trim();
  if (text === '') return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : text;
}

/**
 * The rules' fieldset, showing `risk` (a RiskRules, or nothing). `testid` prefixes its inputs'
 * test ids (`{testid}-stop-loss`, `-target`, `-trail-activate`, `-trail-by`). `read()` is the
 * RiskRules to send, with only the rules set (`{}`: none); `show(risk)` puts stored rules back.
 */
export function riskRulesFieldset(risk, { legend, hint, testid }) {
  const stopLoss = amountInput(null, `${testid}-stop-loss`);
  const target = amountInput(null, `${testid}-target`);
  const activateAt = amountInput(null, `${testid}-trail-activate`);
  const trailBy = amountInput(null, `${testid}-trail-by`);
  const element = h('fieldset', { class: 'portfolio-rules', 'data-field': 'risk', testid },
    h('legend', {}, legend),
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('div', { class: 'row' },
      field('MTM stop-loss (₹)', stopLoss, 'risk.mtm_stop_loss'),
      field('MTM target (₹)', target, 'risk.mtm_target')),
    h('fieldset', { class: 'trailing', 'data-field': 'risk.trailing_stop_loss' },
      h('legend', {}, 'Trailing stop'),
      h('div', { class: 'row' },
        field('Activate at (₹ profit)', activateAt, 'risk.trailing_stop_loss.activate_at'),
        field('Trail by (₹)', trailBy, 'risk.trailing_stop_loss.trail_by'))),
    h('small', { class: 'hint' }, 'Each optional: an empty field means no rule.'));

  function show(rules) {
    stopLoss.value = rules?.mtm_stop_loss ?? '';
    target.value = rules?.mtm_target ?? '';
    activateAt.value = rules?.trailing_stop_loss?.activate_at ?? '';
    trailBy.value = rules?.trailing_stop_loss?.trail_by ?? '';
  }

  function read() {
    const rules = {};
    const set = (key, value) => { if (value !== null) rules[key] = value; };
    set('mtm_stop_loss', amountOf(stopLoss));
    set('mtm_target', amountOf(target));
    // Half a trailing stop is sent as it is: the API names the missing half.
    const trailing = {};
    const [activate, by] = [amountOf(activateAt), amountOf(trailBy)];
    if (activate !== null) trailing.activate_at = activate;
    if (by !== null) trailing.trail_by = by;
    if (activate !== null || by !== null) rules.trailing_stop_loss = trailing;
    return rules;
  }

  show(risk);
  return { element, read, show };
}

/** 'Stop-loss ₹4,000.00, target ₹6,000.00, trailing by ₹800.00 from ₹2,000.00 profit', or 'None'. */
export function rulesSummary(risk) {
  const parts = [];
  if (risk?.mtm_stop_loss != null) parts.push(`stop-loss ${rupees(risk.mtm_stop_loss)}`);
  if (risk?.mtm_target != null) parts.push(`target ${rupees(risk.mtm_target)}`);
  const trailing = risk?.trailing_stop_loss;
  if (trailing) parts.push(`trailing by ${rupees(trailing.trail_by)} from ${rupees(trailing.activate_at)} profit`);
  if (!parts.length) return 'None';
  const text = parts.join(', ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A scope's day (`today[]` of GET /options/risk-settings) in words, after its name:
 * 'peak ₹2,400.00' and/or 'exited at its stop-loss at 11:05:00 IST, MTM -₹4,050.00'.
 */
export function dayText(state) {
  const parts = [];
  if (state.peak != null) parts.push(`peak ${rupees(state.peak)}`);
  const exit = state.exit;
  if (exit) {
    const reason = EXIT_TEXT[exit.reason] || label(exit.reason).toLowerCase();
    parts.push(`exited at its ${reason} at ${time(exit.at)} IST, MTM ${pnl(exit.mtm)}`
      + (exit.queued_at ? '' : ' (exits not queued yet)'));
  }
  return parts.join('; ');
}
