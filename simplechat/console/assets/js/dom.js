// Building the page: every element is made with createElement and every text is a text node
// (textContent). Nothing here, or anywhere in the console, parses a string as HTML: no
// innerHTML, no insertAdjacentHTML, no document.write (tests/console/test_assets.py checks).

const SVG_NS = 'http://www.w3.org/2000/svg';
// Properties that would let a string become markup or style: refused outright.
const FORBIDDEN = new Set(['innerHTML', 'outerHTML', 'srcdoc', 'style']);

function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (FORBIDDEN.has(key) || (key.startsWith('on') && typeof value !== 'function')) {
      throw new Error(`dom: ${key} is not allowed`);  // handlers are functions, never strings
    }
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (typeof value === 'boolean') {
      if (key in el) el[key] = value;
      else el.toggleAttribute(key, value);
    } else if (key === 'value') el.value = value;
    else el.setAttribute(key, String(value));
  }
}

export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** h('button', {class: 'primary', onclick: fn, testid: 'chat-send'}, 'Send') */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  return append(el, children);
}

/** An SVG element (attributes only: geometry and classes, never style). */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (FORBIDDEN.has(key) || key.startsWith('on')) throw new Error(`dom: ${key} is not allowed`);
    el.setAttribute(key, String(value));
  }
  return append(el, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Only web and mail links are followed; anything else (javascript:, data:, ...) is not. */
export function safeHref(url) {
  try {
    const parsed = new URL(url, document.baseURI);
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A link that opens in a new tab and tells the other site nothing about this page. */
export function externalLink(href, ...children) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, ...children);
}

export function download(filename, content, type) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
