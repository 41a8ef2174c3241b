// Markdown to DOM, safely. The vendored marked (vendor/marked.esm.js, MIT) only *lexes* the
// text into tokens; this module builds the elements itself with createElement and text nodes.
// marked's own HTML renderer is never used: its output would have to go through innerHTML.
//
// So no HTML in a reply is ever interpreted: a raw HTML token (`<img src=x onerror=...>`,
// `<script>`) becomes text, links are followed only for http(s) and mailto, and Markdown
// images are shown as links, never loaded (the page loads nothing from another host).

import { Lexer } from '../vendor/marked.esm.js';
import { append, externalLink, h, safeHref } from './dom.js';

const OPTIONS = { gfm: true, breaks: true };
const ALIGN = { left: 'align-left', center: 'align-center', right: 'align-right' };

function inline(tokens) {
  return (tokens || []).map(inlineToken);
}

function inlineToken(token) {
  switch (token.type) {
    case 'text':
      return token.tokens ? inline(token.tokens) : token.text;
    case 'escape':
      return token.text;
    case 'strong':
      return h('strong', null, inline(token.tokens));
    case 'em':
      return h('em', null, inline(token.tokens));
    case 'del':
      return h('del', null, inline(token.tokens));
    case 'codespan':
      return h('code', null, token.text);
    case 'br':
      return h('br');
    case 'link': {
      const href = safeHref(token.href);
      return href ? externalLink(href, inline(token.tokens)) : token.raw;
    }
    case 'image': {
      const href = safeHref(token.href);
      const label = `[image: ${token.text || token.href}]`;
      return href ? externalLink(href, label) : label;
    }
    case 'checkbox':
      return h('input', { type: 'checkbox', checked: token.checked, disabled: true });
    case 'html': // raw HTML in the text: shown as the text it is
    default:
      return token.raw !== undefined ? token.raw : token.text || '';
  }
}

function codeBlock(token) {
  const code = h('code', { class: token.lang ? `language-${token.lang.split(/\s/)[0]}` : null }, token.text);
  const copy = h('button', { type: 'button', class: 'copy', title: 'Copy the code' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(token.text);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Select and copy';
    }
    setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });
  const label = token.lang ? h('span', { class: 'lang' }, token.lang) : null;
  return h('div', { class: 'code-block' }, h('div', { class: 'code-head' }, label, copy), h('pre', null, code));
}

function table(token) {
  const cell = (tag, c) => h(tag, { class: ALIGN[c.align] || null }, inline(c.tokens));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, token.header.map((c) => cell('th', c)))),
      h('tbody', null, token.rows.map((row) => h('tr', null, row.map((c) => cell('td', c))))),
    ),
  );
}

function list(token) {
  const items = token.items.map((item) => h('li', { class: item.task ? 'task' : null }, blocks(item.tokens)));
  if (!token.ordered) return h('ul', null, items);
  const start = Number(token.start);
  return h('ol', { start: Number.isInteger(start) && start !== 1 ? start : null }, items);
}

function block(token) {
  switch (token.type) {
    case 'space':
    case 'def':
      return null;
    case 'paragraph':
      return h('p', null, inline(token.tokens));
    case 'heading':
      return h(`h${Math.min(Math.max(token.depth, 1), 6)}`, null, inline(token.tokens));
    case 'code':
      return codeBlock(token);
    case 'blockquote':
      return h('blockquote', null, blocks(token.tokens));
    case 'list':
      return list(token);
    case 'table':
      return table(token);
    case 'hr':
      return h('hr');
    case 'text': // a tight list item's text
      return token.tokens ? inline(token.tokens) : token.text;
    case 'html':
      return h('p', { class: 'raw' }, token.raw !== undefined ? token.raw : token.text);
    default:
      return h('p', null, token.raw || '');
  }
}

function blocks(tokens) {
  return (tokens || []).map(block);
}

/** `text` as Markdown, into `container` (its children are replaced). */
export function renderMarkdown(container, text) {
  let tokens;
  try {
    tokens = new Lexer(OPTIONS).lex(text);
  } catch {
    container.replaceChildren(h('p', { class: 'plain' }, text)); // never lose the text
    return container;
  }
  container.replaceChildren();
  return append(container, blocks(tokens));
}
