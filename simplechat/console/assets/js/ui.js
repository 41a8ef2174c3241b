// Small pieces the pages share: cards, fields, error boxes, tables, pagers, a busy button.

import { h, replace } from './dom.js';

/** A box for errors: shows the API's own `detail`, or nothing. */
export function errorBox(testid) {
  const box = h('p', { class: 'error', role: 'alert', testid, hidden: true });
  box.show = (error) => {
    box.textContent = error && error.detail ? error.detail : String(error && error.message ? error.message : error);
    box.hidden = false;
  };
  box.clear = () => {
    box.textContent = '';
    box.hidden = true;
  };
  return box;
}

/** A line that says what just happened ("Saved."), for a few seconds. */
export function notice(testid) {
  const line = h('p', { class: 'notice', role: 'status', testid, hidden: true });
  let timer = null;
  line.say = (text) => {
    line.textContent = text;
    line.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (line.hidden = true), 4000);
  };
  return line;
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...children);
}

export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), input, hint ? h('span', { class: 'hint' }, hint) : null);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}

/** Run `work` with `button` disabled (and the form's submit buttons), errors into `errors`. */
export async function busy(button, work, errors) {
  if (errors) errors.clear();
  const wasDisabled = button ? button.disabled : false;
  if (button) {
    button.disabled = true;
    button.classList.add('busy');
  }
  try {
    return await work();
  } catch (error) {
    if (errors) errors.show(error);
    else throw error;
    return undefined;
  } finally {
    if (button) {
      button.disabled = wasDisabled;
      button.classList.remove('busy');
    }
  }
}

/** A form whose submit runs `onSubmit(form)` by script (the CSP forbids native submits). */
export function form(props, children, onSubmit) {
  const element = h('form', { ...props, method: 'post', novalidate: true }, children);
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    onSubmit(element, event.submitter || element.querySelector('[type=submit]'));
  });
  return element;
}

/**
 * A table: columns are {title, value(row) -> node or text, numeric?}; `rowProps(row)` gives
 * the row's attributes (testid, onclick...).
 */
export function table(columns, rows, { rowProps, testid, emptyText = 'Nothing here yet.' } = {}) {
  if (!rows.length) return empty(emptyText);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data', testid },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.numeric ? 'num' : null }, c.title)))),
      h(
        'tbody',
        null,
        rows.map((row) =>
          h(
            'tr',
            rowProps ? rowProps(row) : null,
            columns.map((c) => h('td', { class: c.numeric ? 'num' : null, 'data-label': c.title }, c.value(row))),
          ),
        ),
      ),
    ),
  );
}

/** "Page 2 of 5" with previous and next buttons; calls onPage(n). */
export function pager({ page, page_size: pageSize, total }, onPage, testid) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return h('p', { class: 'pager muted', testid }, `${total} in all`);
  return h(
    'nav',
    { class: 'pager', testid, 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: page <= 1, onclick: () => onPage(page - 1) }, '‹ Previous'),
    h('span', null, `Page ${page} of ${pages} · ${total} in all`),
    h('button', { type: 'button', disabled: page >= pages, onclick: () => onPage(page + 1) }, 'Next ›'),
  );
}

/** Tabs: [{id, title}] with the current one marked; calls onPick(id). */
export function tabs(items, currentId, onPick, prefix) {
  return h(
    'nav',
    { class: 'tabs', role: 'tablist' },
    items.map((item) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          'aria-selected': item.id === currentId ? 'true' : 'false',
          testid: `${prefix}-${item.id}`,
          onclick: () => onPick(item.id),
        },
        item.title,
      ),
    ),
  );
}

/** Replace `container`'s content by what `load()` returns, showing loading and errors. */
export async function fill(container, load) {
  replace(container, loading());
  try {
    replace(container, await load());
  } catch (error) {
    const box = errorBox();
    box.show(error);
    replace(container, box);
  }
}

export function numberInput(props) {
  return h('input', { type: 'number', inputmode: 'numeric', min: 0, step: 1, ...props });
}

/** A number field's value: null when blank (the API's "no cap / default"). */
export function optionalInt(input) {
  const text = input.value.trim();
  return text === '' ? null : Number.parseInt(text, 10);
}
