// API errors shown where the user looks: each `details[].field` (`legs.2.lots`, `entry.time`)
// beside the element carrying `data-field` with that name (or the nearest enclosing one:
// `legs.2.strike.steps` falls back to `legs.2.strike`, then `legs.2`), the rest at the form's top.

import { h } from './dom.js';
import { ApiError } from './api.js';

function findField(form, name) {
  const parts = String(name || '').split('.');
  while (parts.length) {
    const candidate = form.querySelector(`[data-field="${CSS.escape(parts.join('.'))}"]`);
    if (candidate) return candidate;
    parts.pop();
  }
  return null;
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((element) => element.remove());
  form.querySelectorAll('[aria-invalid]').forEach((element) => element.removeAttribute('aria-invalid'));
  const summary = form.querySelector(':scope > .form-error');
  if (summary) summary.remove();
}

function summaryBox(form, texts) {
  const box = h('div', { class: 'form-error', role: 'alert', testid: 'form-error' }, texts.map((t) => h('p', {}, t)));
  form.prepend(box);
  return box;
}

/** Show an error (an ApiError or any Error) on `form`; returns the number of field messages. */
export function showErrors(form, error) {
  clearErrors(form);
  if (!(error instanceof ApiError)) {
    summaryBox(form, [error?.message || String(error)]);
    return 0;
  }
  const leftover = [];
  let placed = 0;
  for (const detail of error.details) {
    const target = findField(form, detail.field);
    if (!target) {
      leftover.push(`${detail.field}: ${detail.issue}`);
      continue;
    }
    const message = h('p', { class: 'field-error', role: 'alert', testid: `error-${detail.field}` }, detail.issue);
    message.id = `${target.dataset.field.replaceAll('.', '-')}-error-${placed}`;
    target.append(message);
    const control = target.matches('input, select, textarea') ? target : target.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', message.id);
    }
    placed += 1;
  }
  summaryBox(form, [error.message, ...leftover]);
  return placed;
}

/** A transient note in a status element (role=status), e.g. "Saved". */
export function note(element, text, kind = 'info') {
  element.textContent = text;
  element.className = `note note-${kind}`;
}
