// The chat page: conversations (search, rename, delete, new from a preset), the model picker,
// the thread, and the composer. Answers stream in (POST /llm/message with stream: true) and are
// drawn as Markdown piece by piece; Stop aborts the request (the server keeps what was said).

import * as api from './api.js';
import { ApiError } from './api.js';
import { download, externalLink, h, replace, safeHref } from './dom.js';
import * as fmt from './format.js';
import { icon } from './icons.js';
import { renderMarkdown } from './markdown.js';
import * as session from './session.js';
import { events } from './sse.js';
import { empty, errorBox, loading } from './ui.js';

const LIST_PAGE_SIZE = 30;
const MESSAGES_PAGE_SIZE = 100;
const SEARCH_DELAY_MS = 250;
const PAINT_EVERY_MS = 40;
const MODEL_KEY = 'simplechat.model';
const IMAGE_MAX_SIDE = 1024; // pictures are shrunk in the page: request bodies are at most 1 MB
const IMAGE_QUALITY = 0.85;
const IMAGE_MAX_CHARS = 900_000;
const SHOWN_IMAGE = /^data:image\/(png|jpeg|webp|gif);base64,/;

function textOf(content) {
  if (typeof content === 'string') return content;
  return (content || []).filter((p) => p.type === 'text').map((p) => p.text).join('\n');
}

function imagesOf(content) {
  return typeof content === 'string' ? [] : (content || []).filter((p) => p.type === 'image_url').map((p) => p.image_url.url);
}

function priceText(model) {
  if (!model.price) return 'free';
  const tiered = model.price.tiers.length > 1 ? ' (tiered)' : '';
  return `${fmt.credits(model.price.input)}/${fmt.credits(model.price.output)} per 1k${tiered}`;
}

/** The picker's line: name, context window and price (credits per 1,000 in/out tokens). */
function modelLabel(model) {
  return `${model.name} · ${fmt.tokensShort(model.context_window)} · ${priceText(model)}`;
}

function modelDetails(model) {
  const price = model.price
    ? `${fmt.credits(model.price.input)} credits per 1,000 prompt tokens, ${fmt.credits(model.price.output)} per 1,000 output tokens${model.price.tiers.length > 1 ? ' (more for long prompts)' : ''}`
    : 'free';
  return [
    model.description,
    `${fmt.number(model.context_window)}-token context`,
    `up to ${fmt.number(model.max_output_tokens)} output tokens`,
    price,
    model.takes_images ? 'reads pictures' : null,
  ].filter(Boolean).join(' · ');
}

function metaText(message) {
  if (message.role === 'user') {
    const parts = [`${fmt.plural(message.input_tokens, 'token')}`];
    if (message.status === 'unanswered') parts.push('not answered');
    return parts.join(' · ');
  }
  const parts = [message.model, `${fmt.number(message.prompt_tokens)} prompt + ${fmt.number(message.output_tokens)} output tokens`];
  if (Number(message.cost) > 0) parts.push(`${fmt.credits(message.cost)} credits`); // free: say nothing
  if (message.status === 'incomplete') parts.push('cut short');
  return parts.join(' · ');
}

async function shrinkPicture(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('This file is not a picture the browser can read.');
  }
  const scale = Math.min(1, IMAGE_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = h('canvas', { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const url = canvas.toDataURL('image/jpeg', IMAGE_QUALITY);
  if (url.length > IMAGE_MAX_CHARS) throw new Error('This picture is too large to send, even shrunk.');
  return url;
}

export function chatView(container, ctx) {
  const state = {
    list: [],
    total: 0,
    page: 1,
    q: '',
    currentId: ctx.params[0] || null,
    current: null,
    messages: [],
    earlier: 0,
    models: [],
    defaultModel: null,
    presets: [],
    image: null,
    streaming: null,
    ticket: 0,
    searchTimer: null,
  };

  // --- the elements ---
  const search = h('input', { type: 'search', placeholder: 'Search titles', 'aria-label': 'Search conversations', testid: 'conversation-search', maxlength: 100 });
  const presetSelect = h('select', { 'aria-label': 'Preset for a new chat', testid: 'preset-select' }, h('option', { value: '' }, 'No preset'));
  const newChat = h('button', { type: 'button', class: 'primary', testid: 'chat-new' }, 'New chat');
  const list = h('ul', { class: 'conversation-list', testid: 'conversation-list' });
  const more = h('button', { type: 'button', class: 'ghost more', hidden: true }, 'More conversations');
  const sidebar = h(
    'aside',
    { class: 'sidebar', 'aria-label': 'Conversations' },
    h('div', { class: 'sidebar-head' }, h('div', { class: 'row' }, newChat, presetSelect), search),
    list,
    more,
  );

  const toggle = h('button', { type: 'button', class: 'ghost sidebar-toggle', 'aria-label': 'Show conversations', testid: 'sidebar-toggle' }, icon('menu'));
  const title = h('h1', { class: 'thread-title', testid: 'conversation-title' }, 'New chat');
  const presetBadge = h('span', { class: 'badge', hidden: true, testid: 'conversation-preset' });
  const modelSelect = h('select', { 'aria-label': 'Model', testid: 'model-select', class: 'model-select' });
  const modelInfo = h('span', { class: 'muted model-info', testid: 'model-info' });
  const limitLeft = h('span', { class: 'pill', testid: 'limit-left', hidden: true });
  const creditsLeft = h('span', { class: 'pill', testid: 'credits-left', hidden: true });
  const exportButton = h('button', { type: 'button', class: 'ghost', testid: 'conversation-export', hidden: true, title: 'Download as Markdown' }, 'Export');
  const messages = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite', testid: 'messages' });
  const errors = errorBox('chat-error');
  const input = h('textarea', { rows: 1, placeholder: 'Message…', 'aria-label': 'Message', testid: 'chat-input', maxlength: 100_000 });
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', hidden: true, testid: 'chat-file' });
  const attach = h('button', { type: 'button', class: 'ghost', testid: 'chat-attach', title: 'Attach a picture', 'aria-label': 'Attach a picture' }, icon('attach'));
  const attachment = h('div', { class: 'attachment', hidden: true, testid: 'chat-attachment' });
  const sendButton = h('button', { type: 'submit', class: 'primary', testid: 'chat-send' }, 'Send');
  const stopButton = h('button', { type: 'button', class: 'danger', testid: 'chat-stop', hidden: true }, 'Stop');
  const composer = h(
    'form',
    { class: 'composer', method: 'post', novalidate: true },
    attachment,
    h('div', { class: 'composer-row' }, attach, fileInput, input, sendButton, stopButton),
    h('p', { class: 'hint' }, 'Enter sends · Shift+Enter for a new line'),
  );
  const thread = h(
    'section',
    { class: 'thread' },
    h(
      'header',
      { class: 'thread-head' },
      h('div', { class: 'row' }, toggle, title, presetBadge, exportButton),
      h('div', { class: 'row wrap' }, modelSelect, limitLeft, creditsLeft),
      modelInfo,
    ),
    messages,
    errors,
    composer,
  );
  replace(container, h('div', { class: 'chat' }, sidebar, thread));

  // --- conversations ---
  function conversationItem(conversation) {
    const open = h(
      'button',
      { type: 'button', class: 'open', onclick: () => openFromList(conversation.id) },
      h('span', { class: 'title' }, conversation.title || 'Untitled'),
      h('span', { class: 'when' }, fmt.ago(conversation.updated_at)),
    );
    const rename = h('button', { type: 'button', class: 'ghost icon', title: 'Rename', 'aria-label': `Rename ${conversation.title}`, testid: 'conversation-rename' }, icon('pencil'));
    rename.addEventListener('click', async () => {
      const next = window.prompt('A new title', conversation.title);
      if (next === null || !next.trim()) return;
      try {
        await api.patch(`conversations/${conversation.id}`, { title: next.trim() });
        await loadList();
        if (conversation.id === state.currentId) title.textContent = next.trim();
      } catch (error) {
        errors.show(error);
      }
    });
    const remove = h('button', { type: 'button', class: 'ghost icon', title: 'Delete', 'aria-label': `Delete ${conversation.title}`, testid: 'conversation-delete' }, icon('trash'));
    remove.addEventListener('click', async () => {
      if (!window.confirm(`Delete “${conversation.title}” and all its messages?`)) return;
      try {
        await api.del(`conversations/${conversation.id}`);
        if (conversation.id === state.currentId) ctx.navigate('chat');
        await loadList();
      } catch (error) {
        errors.show(error);
      }
    });
    const item = h('li', { class: 'conversation-item', testid: 'conversation-item', dataset: { id: conversation.id } }, open, h('span', { class: 'actions' }, rename, remove));
    if (conversation.id === state.currentId) item.setAttribute('aria-current', 'true');
    return item;
  }

  function drawList() {
    if (!state.list.length) {
      replace(list, h('li', { class: 'empty' }, state.q ? 'No conversation has that in its title.' : 'No conversations yet: say hello.'));
    } else {
      replace(list, state.list.map(conversationItem));
    }
    more.hidden = state.list.length >= state.total;
  }

  async function loadList(append = false) {
    const page = append ? state.page + 1 : 1;
    if (!append && !state.list.length) replace(list, h('li', null, loading()));
    try {
      const found = await api.get('conversations', { page, page_size: LIST_PAGE_SIZE, q: state.q });
      state.page = page;
      state.total = found.total;
      state.list = append ? state.list.concat(found.items) : found.items;
      drawList();
    } catch (error) {
      replace(list, h('li', { class: 'error' }, error.detail || String(error)));
    }
  }

  function openFromList(id) {
    sidebar.classList.remove('open');
    ctx.navigate('chat', id);
  }

  search.addEventListener('input', () => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => {
      state.q = search.value.trim();
      loadList();
    }, SEARCH_DELAY_MS);
  });
  more.addEventListener('click', () => loadList(true));
  newChat.addEventListener('click', () => {
    sidebar.classList.remove('open');
    if (state.currentId) ctx.navigate('chat');
    else openConversation(null);
    input.focus();
  });
  presetSelect.addEventListener('change', () => {
    if (!state.currentId) drawThread();
  });
  toggle.addEventListener('click', () => sidebar.classList.toggle('open'));

  // --- models, limits ---
  function selectedModel() {
    return state.models.find((m) => m.name === modelSelect.value) || null;
  }

  function drawModelInfo() {
    const model = selectedModel();
    modelInfo.textContent = model ? modelDetails(model) : '';
    attach.disabled = !model || !model.takes_images;
    attach.title = attach.disabled ? 'This model does not read pictures' : 'Attach a picture';
    if (attach.disabled) setImage(null);
  }

  function pickModel(name) {
    const known = state.models.some((m) => m.name === name);
    modelSelect.value = known ? name : state.defaultModel || (state.models[0] && state.models[0].name) || '';
    drawModelInfo();
  }

  function preferredModel() {
    const last = [...state.messages].reverse().find((m) => m.role === 'assistant');
    const preset = state.presets.find((p) => p.id === presetSelect.value);
    if (state.current) return state.current.model || (last && last.model) || localStorage.getItem(MODEL_KEY);
    return (preset && preset.parameters.model) || localStorage.getItem(MODEL_KEY);
  }

  modelSelect.addEventListener('change', () => {
    localStorage.setItem(MODEL_KEY, modelSelect.value);
    drawModelInfo();
    if (state.current && !state.current.default) {
      api.patch(`conversations/${state.current.id}`, { model: modelSelect.value }).catch(() => {});
    }
  });

  async function loadModels() {
    const models = await api.get('llm/models');
    state.models = models;
    state.defaultModel = (models.find((m) => m.default) || models[0] || {}).name || null;
    replace(modelSelect, models.map((m) => h('option', { value: m.name }, modelLabel(m))));
    pickModel(preferredModel());
  }

  async function loadPresets() {
    const found = await api.get('presets', { page_size: 100 });
    state.presets = found.items;
    replace(presetSelect, h('option', { value: '' }, 'No preset'), found.items.map((p) => h('option', { value: p.id }, p.public ? p.name : `${p.name} (mine)`)));
  }

  async function loadStatus() {
    try {
      const status = await api.get('user/status');
      limitLeft.textContent = `${fmt.number(status.remaining)} of ${fmt.number(status.daily_limit)} messages left today`;
      limitLeft.title = `Counts again from zero ${fmt.dateTime(status.resets_at)}; at most ${status.burst_limit} in ${status.burst_window_seconds} s`;
      limitLeft.classList.toggle('low', status.remaining <= Math.max(1, status.daily_limit / 10));
      limitLeft.hidden = false;
    } catch {
      limitLeft.hidden = true;
    }
    try {
      const credits = await api.get('user/credits', { page_size: 1 });
      creditsLeft.textContent = `${fmt.credits(credits.available)} credits`;
      creditsLeft.title = `Balance ${fmt.credits(credits.balance)}, ${fmt.credits(credits.on_hold)} on hold`;
      creditsLeft.hidden = false;
    } catch {
      creditsLeft.hidden = true; // credits are off on this server (404)
    }
  }

  // --- the thread ---
  function userContent(body, content) {
    const text = textOf(content);
    if (text) body.append(h('p', { class: 'plain' }, text));
    for (const url of imagesOf(content)) {
      if (SHOWN_IMAGE.test(url)) body.append(h('img', { class: 'thumb', src: url, alt: 'An attached picture' }));
      else if (safeHref(url)) body.append(h('p', null, externalLink(safeHref(url), `[image: ${url}]`)));
    }
  }

  function bubble(message) {
    const body = h('div', { class: 'content' });
    if (message.role === 'assistant') renderMarkdown(body, textOf(message.content));
    else userContent(body, message.content);
    const meta = h('div', { class: 'meta', testid: 'message-meta' }, message.id ? metaText(message) : '');
    const element = h(
      'article',
      { class: `message ${message.role}`, testid: 'message', 'data-role': message.role, 'data-status': message.status || 'complete' },
      h('div', { class: 'who' }, message.role === 'user' ? 'You' : 'Assistant'),
      body,
      meta,
    );
    element.body = body;
    element.meta = meta;
    return element;
  }

  function regenerateButton() {
    return h('button', { type: 'button', class: 'ghost small', testid: 'chat-regenerate', onclick: regenerate }, icon('again'), 'Regenerate');
  }

  function emptyThread() {
    const preset = state.presets.find((p) => p.id === presetSelect.value);
    return h(
      'div',
      { class: 'empty-thread', testid: 'chat-empty' },
      h('h2', null, preset ? `New chat with “${preset.name}”` : 'New chat'),
      h('p', null, preset && preset.description ? preset.description : 'Ask anything. Your messages and the answers are kept in this conversation.'),
      h('p', { class: 'muted' }, 'Pick a model above; a preset (left) starts the chat with its own prompt.'),
    );
  }

  function drawThread() {
    const conversation = state.current;
    title.textContent = conversation ? conversation.title || 'Untitled' : 'New chat';
    presetBadge.hidden = !(conversation && conversation.preset);
    presetBadge.textContent = conversation && conversation.preset ? conversation.preset.name : '';
    exportButton.hidden = !conversation;
    if (!state.messages.length) {
      replace(messages, emptyThread());
    } else {
      const bubbles = state.messages.map(bubble);
      const last = state.messages[state.messages.length - 1];
      if (conversation && !state.streaming && (last.role === 'assistant' || last.status === 'unanswered')) {
        bubbles[bubbles.length - 1].append(regenerateButton());
      }
      const note = state.earlier ? h('p', { class: 'muted earlier' }, `${fmt.plural(state.earlier, 'earlier message')} not shown (Export has them all).`) : null;
      replace(messages, note, bubbles);
    }
    for (const item of list.children) {
      if (item.dataset.id === state.currentId) item.setAttribute('aria-current', 'true');
      else item.removeAttribute('aria-current');
    }
    scrollDown(true);
  }

  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  }

  function scrollDown(force) {
    if (force || nearBottom()) messages.scrollTop = messages.scrollHeight;
  }

  async function readMessages(id) {
    const detail = await api.get(`conversations/${id}`);
    let items = detail.messages.items;
    const total = detail.messages.total;
    if (total > items.length) {
      const last = Math.ceil(total / MESSAGES_PAGE_SIZE);
      const page = await api.get(`conversations/${id}/messages`, { page: last, page_size: MESSAGES_PAGE_SIZE });
      items = page.items;
      if (last > 1 && items.length < MESSAGES_PAGE_SIZE / 2) {
        const before = await api.get(`conversations/${id}/messages`, { page: last - 1, page_size: MESSAGES_PAGE_SIZE });
        items = before.items.concat(items);
      }
    }
    return { conversation: detail, items, earlier: Math.max(0, total - items.length) };
  }

  async function openConversation(id) {
    if (state.streaming) state.streaming.abort();
    const ticket = ++state.ticket;
    state.currentId = id;
    errors.clear();
    if (!id) {
      state.current = null;
      state.messages = [];
      state.earlier = 0;
      drawThread();
      pickModel(preferredModel());
      return;
    }
    replace(messages, loading('Loading the conversation…'));
    try {
      const found = await readMessages(id);
      if (ticket !== state.ticket) return;
      state.current = found.conversation;
      state.messages = found.items;
      state.earlier = found.earlier;
      drawThread();
      pickModel(preferredModel());
    } catch (error) {
      if (ticket !== state.ticket) return;
      state.current = null;
      state.messages = [];
      replace(messages, empty('This conversation cannot be shown.'));
      errors.show(error);
    }
  }

  async function reloadThread() {
    if (!state.currentId) return;
    const ticket = state.ticket;
    try {
      const found = await readMessages(state.currentId);
      if (ticket !== state.ticket || state.streaming) return;
      state.current = found.conversation;
      state.messages = found.items;
      state.earlier = found.earlier;
      drawThread();
    } catch {
      // the thread on screen stays as it is; the error (if any) is already shown
    }
  }

  // --- streaming ---
  function setStreaming(controller) {
    state.streaming = controller;
    stopButton.hidden = !controller;
    sendButton.hidden = Boolean(controller);
    const regen = messages.querySelector('[data-testid=chat-regenerate]');
    if (regen) regen.remove();
  }

  /** POST `path` with `body` and draw the streamed answer into `target`. */
  async function streamInto(path, body, target) {
    const controller = new AbortController();
    setStreaming(controller);
    let text = '';
    let finish = null;
    let failure = null;
    let stopped = false;
    let painted = 0;
    let timer = null;
    const paint = () => {
      timer = null;
      painted = Date.now();
      renderMarkdown(target.body, text);
      scrollDown(false);
    };
    target.classList.add('streaming');
    try {
      const response = await api.call(path, { method: 'POST', json: body, raw: true, signal: controller.signal });
      for await (const event of events(response)) {
        if (event.data === '[DONE]') break;
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          continue;
        }
        if (event.event === 'error') {
          failure = new ApiError(502, data);
          break;
        }
        if (data.content) {
          text += data.content;
          if (!timer) timer = setTimeout(paint, Math.max(0, PAINT_EVERY_MS - (Date.now() - painted)));
        }
        if (data.finish_reason) finish = data;
      }
    } catch (error) {
      if (error && error.name === 'AbortError') stopped = true;
      else failure = error;
    } finally {
      clearTimeout(timer);
      paint();
      target.classList.remove('streaming');
      setStreaming(null);
    }
    return { text, finish, failure, stopped };
  }

  async function afterAnswer(result, target) {
    if (result.stopped) {
      target.dataset.status = 'stopped';
      target.meta.textContent = 'Stopped: the server keeps what was written so far.';
      return;
    }
    if (result.failure) {
      errors.show(result.failure);
      target.dataset.status = 'failed';
      target.meta.textContent = result.failure.detail;
    }
    if (!session.current()) return; // signed out (the banner says so): nothing more to read
    await Promise.all([reloadThread(), loadList(), loadStatus()]);
  }

  async function ensureConversation() {
    if (state.currentId) return state.currentId;
    const created = await api.post('conversations', { preset_id: presetSelect.value || undefined });
    state.current = created;
    state.currentId = created.id; // set first: the address change below must not reload
    ctx.navigate('chat', created.id);
    return created.id;
  }

  async function send() {
    if (state.streaming) return;
    const text = input.value.trim();
    const image = state.image;
    if (!text && !image) return;
    errors.clear();
    const model = modelSelect.value || undefined;
    const message = image ? [...(text ? [{ type: 'text', text }] : []), { type: 'image_url', image_url: { url: image } }] : text;
    let conversationId;
    try {
      conversationId = await ensureConversation();
    } catch (error) {
      errors.show(error);
      return;
    }
    input.value = '';
    fitInput();
    setImage(null);
    if (!state.messages.length) messages.replaceChildren();
    const mine = bubble({ role: 'user', content: message, status: 'sending' });
    const answer = bubble({ role: 'assistant', content: '', status: 'streaming' });
    messages.append(mine, answer);
    scrollDown(true);
    const result = await streamInto('llm/message', { message, model, stream: true, conversation_id: conversationId }, answer);
    if (result.failure && !result.text) {
      // Refused before any answer (a limit, credits, a signed-out user...): say why, and give
      // the text back to edit or send again.
      answer.remove();
      mine.dataset.status = 'refused';
      mine.meta.textContent = 'Not sent';
      if (!input.value) {
        input.value = text;
        fitInput();
      }
      if (image) setImage(image);
    }
    await afterAnswer(result, answer);
  }

  async function regenerate() {
    if (state.streaming || !state.currentId) return;
    errors.clear();
    const bubbles = messages.querySelectorAll('[data-testid=message]');
    const last = bubbles[bubbles.length - 1];
    if (last && last.dataset.role === 'assistant') last.remove();
    const answer = bubble({ role: 'assistant', content: '', status: 'streaming' });
    messages.append(answer);
    scrollDown(true);
    const result = await streamInto(`conversations/${state.currentId}/regenerate`, { model: modelSelect.value || undefined, stream: true }, answer);
    if (result.failure && !result.text) answer.remove();
    await afterAnswer(result, answer);
  }

  // --- the composer ---
  function fitInput() {
    input.rows = Math.min(Math.max(input.value.split('\n').length, 1), 8);
  }

  function setImage(url) {
    state.image = url;
    attachment.hidden = !url;
    if (!url) {
      attachment.replaceChildren();
      fileInput.value = '';
      return;
    }
    const removeImage = h('button', { type: 'button', class: 'ghost small', onclick: () => setImage(null) }, 'Remove');
    replace(attachment, h('img', { class: 'thumb', src: url, alt: 'The picture to send' }), removeImage);
  }

  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  input.addEventListener('input', fitInput);
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  stopButton.addEventListener('click', () => state.streaming && state.streaming.abort());
  attach.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    try {
      setImage(await shrinkPicture(file));
    } catch (error) {
      errors.show(error);
      setImage(null);
    }
  });
  exportButton.addEventListener('click', async () => {
    if (!state.currentId) return;
    try {
      const response = await api.call(`conversations/${state.currentId}/export`, { query: { format: 'markdown' }, raw: true });
      download(`conversation-${state.currentId}.md`, await response.blob(), 'text/markdown');
    } catch (error) {
      errors.show(error);
    }
  });

  // --- start ---
  drawThread();
  Promise.all([loadModels(), loadPresets()])
    .catch((error) => errors.show(error))
    .then(() => openConversation(state.currentId));
  loadList();
  loadStatus();
  input.focus();

  return {
    update(params) {
      const id = params[0] || null;
      if (id !== state.currentId) openConversation(id);
    },
    unmount() {
      if (state.streaming) state.streaming.abort();
      clearTimeout(state.searchTimer);
      state.ticket += 1;
    },
  };
}
