// Building the page without innerHTML: every text goes in as a text node (nothing a server or a
// user types is ever parsed as markup), and nothing sets a style attribute (the CSP forbids it).

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach((each) => append(parent, each));
    return;
  }
  parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

function setAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'style') throw new Error('no style attributes: use a class');
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (name === 'testid') {
      element.dataset.testid = value;
    } else if (name === 'value' && 'value' in element) {
      element.value = value;
    } else if (name === 'checked' || name === 'selected' || name === 'disabled') {
      element[name] = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/** `h('button', {class: 'primary', onClick: fn, testid: 'save'}, 'Save')` */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  append(element, children);
  return element;
}

/** The same for SVG elements (presentation attributes, never style). */
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (name === 'class') element.setAttribute('class', value);
    else if (name === 'testid') element.setAttribute('data-testid', value);
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** Replace the content of `element` with `children`. */
export function fill(element, ...children) {
  clear(element);
  append(element, children);
  return element;
}

let uniqueCounter = 0;
export function uniqueId(prefix = 'id') {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A labelled form control: `<div class="field" data-field=name><label>..</label>control</div>`. */
export function field(label, control, name, hint) {
  if (!control.id) control.id = uniqueId('field');
  if (name) control.name = control.name || name;
  const wrapper = h('div', { class: 'field', 'data-field': name || null },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null);
  return wrapper;
}

export function select(options, value, attrs = {}) {
  const element = h('select', attrs);
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    element.append(h('option', { value: optionValue, selected: String(optionValue) === String(value) }, text));
  }
  return element;
}

/** A table from column headings and rows of cells (a cell: text, Node, or {content, class, testid}). */
export function table(headings, rows, attrs = {}) {
  const head = h('thead', {}, h('tr', {}, headings.map((heading) => h('th', { scope: 'col' }, heading))));
  const body = h('tbody', {});
  for (const row of rows) body.append(row instanceof Node ? row : tableRow(row));
  return h('table', attrs, head, body);
}

export function tableRow(cells, attrs = {}) {
  return h('tr', attrs, cells.map((cell) => {
    if (cell && typeof cell === 'object' && !(cell instanceof Node) && !Array.isArray(cell)) {
      return h('td', { class: cell.class, testid: cell.testid }, cell.content);
    }
    return h('td', {}, cell);
  }));
}

/** A debounced function: runs `fn` once `wait` ms after the last call. */
export function debounce(fn, wait) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
