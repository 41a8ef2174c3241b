// The admin page (admins only; the API refuses anyone else with 403 whatever the page shows):
// users, redeem codes, public presets, usage charts and the audit log.
//
// Each section is one entry of SECTIONS: a title and a function that fills the page. Upstream
// channels and their health (issue 27) will be one more entry once the API has them.

import * as api from './api.js';
import { barChart, dailySeries, shareTable } from './charts.js';
import { download, h, replace } from './dom.js';
import * as fmt from './format.js';
import { busy, card, empty, errorBox, field, fill, form, loading, notice, numberInput, optionalInt, pager, table, tabs } from './ui.js';

const PAGE_SIZE = 20;
const CODE_STATUSES = ['', 'unused', 'used', 'expired', 'disabled'];
const USAGE_RANGES = [7, 30, 90];
const EXPORT_MAX_PAGES = 50; // 5,000 codes at most in one CSV

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function badge(on, yes, no) {
  return h('span', { class: on ? 'badge ok' : 'badge off' }, on ? yes : no);
}

// --- users ---
function usersSection(ctx) {
  const query = { q: '', role: '', disabled: '', sort: '-created_at', page: 1 };
  const results = h('div');
  const detail = h('div', { class: 'detail', testid: 'admin-user-detail', hidden: true });
  const search = h('input', { type: 'search', placeholder: 'Username starts with…', maxlength: 32, testid: 'admin-users-search' });
  const role = h('select', { 'aria-label': 'Role' }, h('option', { value: '' }, 'Any role'), h('option', { value: 'user' }, 'Users'), h('option', { value: 'admin' }, 'Admins'));
  const disabled = h('select', { 'aria-label': 'Status' }, h('option', { value: '' }, 'Any status'), h('option', { value: 'false' }, 'Active'), h('option', { value: 'true' }, 'Disabled'));
  const sort = h(
    'select',
    { 'aria-label': 'Order' },
    [
      ['-created_at', 'Newest first'],
      ['created_at', 'Oldest first'],
      ['-last_active_at', 'Recently active'],
      ['username', 'By username'],
    ].map(([value, label]) => h('option', { value }, label)),
  );
  let timer = null;
  const reload = (page = 1) => {
    query.page = page;
    return fill(results, usersTable);
  };
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      query.q = search.value.trim();
      reload();
    }, 250);
  });
  for (const [select, key] of [[role, 'role'], [disabled, 'disabled'], [sort, 'sort']]) {
    select.addEventListener('change', () => {
      query[key] = select.value;
      reload();
    });
  }

  async function usersTable() {
    const found = await api.get('admin/users', { page: query.page, page_size: PAGE_SIZE, q: query.q, role: query.role, disabled: query.disabled, sort: query.sort });
    return h(
      'div',
      null,
      table(
        [
          { title: 'Username', value: (u) => h('strong', null, u.username) },
          { title: 'Name', value: (u) => u.display_name || '' },
          { title: 'Role', value: (u) => u.role },
          { title: 'Status', value: (u) => badge(!u.disabled, 'active', 'disabled') },
          { title: 'Created', value: (u) => fmt.day(u.created_at) },
          { title: 'Last active', value: (u) => fmt.ago(u.last_active_at) },
        ],
        found.items,
        {
          testid: 'admin-users',
          emptyText: 'No user matches.',
          rowProps: (u) => ({
            testid: 'admin-users-row',
            dataset: { username: u.username },
            class: 'clickable',
            tabindex: 0,
            onclick: () => openUser(u.username),
            onkeydown: (event) => event.key === 'Enter' && openUser(u.username),
          }),
        },
      ),
      pager(found, reload),
    );
  }

  async function openUser(username) {
    detail.hidden = false;
    await fill(detail, () => userDetail(username));
    detail.scrollIntoView({ block: 'nearest' });
  }

  async function userDetail(username) {
    const user = await api.get(`admin/users/${encodeURIComponent(username)}`);
    const errors = errorBox('admin-user-error');
    const saved = notice('admin-user-saved');
    const inputs = {
      display_name: h('input', { value: user.display_name || '', maxlength: 100 }),
      email: h('input', { type: 'email', value: user.email || '', maxlength: 254 }),
      daily_limit: numberInput({ value: user.limits.daily_override ?? '', placeholder: `default (${user.limits.daily_limit})`, testid: 'admin-user-daily-limit' }),
      burst_limit: numberInput({ value: user.limits.burst_override ?? '', placeholder: `default (${user.limits.burst_limit})` }),
      speech_seconds_daily: numberInput({ value: user.media.speech_seconds_override ?? '', placeholder: `default (${user.media.speech_seconds_daily})` }),
      pictures_daily: numberInput({ value: user.media.pictures_override ?? '', placeholder: `default (${user.media.pictures_daily})` }),
      password: h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'leave empty to keep' }),
    };
    const roleSelect = h('select', { testid: 'admin-user-role' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
    roleSelect.value = user.role;
    const after = async (changes, message) => {
      await api.patch(`admin/users/${encodeURIComponent(username)}`, changes);
      await reload(query.page);
      await fill(detail, () => userDetail(username));
      const line = detail.querySelector('[data-testid=admin-user-saved]');
      if (line) line.say(message);
    };
    const toggle = h('button', { type: 'button', class: user.disabled ? 'primary' : 'danger', testid: 'admin-user-disable', disabled: user.role === 'admin' && !user.disabled, title: user.role === 'admin' ? 'Admins are never disabled: demote first' : '' }, user.disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', () => busy(toggle, () => after({ disabled: !user.disabled }, user.disabled ? 'Enabled.' : 'Disabled: their tokens stopped working.'), errors));
    const remove = h('button', { type: 'button', class: 'danger ghost', testid: 'admin-user-delete' }, 'Delete user');
    remove.addEventListener('click', () => {
      if (!window.confirm(`Delete ${username} and everything they own?`)) return;
      busy(remove, async () => {
        await api.del(`admin/users/${encodeURIComponent(username)}`);
        detail.hidden = true;
        await reload(query.page);
      }, errors);
    });
    const edit = form({ class: 'stack' }, [
      h('div', { class: 'row wrap' }, field('Display name', inputs.display_name), field('Email', inputs.email), field('Role', roleSelect)),
      h('div', { class: 'row wrap' }, field('Messages a day', inputs.daily_limit), field(`Burst (per ${user.limits.burst_window_seconds} s)`, inputs.burst_limit)),
      h('div', { class: 'row wrap' }, field('Speech seconds a day', inputs.speech_seconds_daily), field('Pictures a day', inputs.pictures_daily)),
      field('Reset the password', inputs.password, 'Their other sessions are logged out.'),
      errors,
      saved,
      h('div', { class: 'row wrap' }, h('button', { type: 'submit', class: 'primary', testid: 'admin-user-save' }, 'Save'), toggle, remove),
    ], (_, button) =>
      busy(button, async () => {
        const changes = {};
        const text = (key, was) => {
          const value = inputs[key].value.trim() || null;
          if (value !== (was || null)) changes[key] = value;
        };
        text('display_name', user.display_name);
        text('email', user.email);
        const number = (key, was) => {
          const value = optionalInt(inputs[key]);
          if (value !== was) changes[key] = value;
        };
        number('daily_limit', user.limits.daily_override);
        number('burst_limit', user.limits.burst_override);
        number('speech_seconds_daily', user.media.speech_seconds_override);
        number('pictures_daily', user.media.pictures_override);
        if (roleSelect.value !== user.role) changes.role = roleSelect.value;
        if (inputs.password.value) changes.password = inputs.password.value;
        if (!Object.keys(changes).length) return saved.say('Nothing changed.');
        await after(changes, 'Saved.');
      }, errors),
    );
    const figures = h(
      'dl',
      { class: 'figures' },
      h('dt', null, 'Messages today'),
      h('dd', null, `${fmt.number(user.limits.messages_today)} of ${fmt.number(user.limits.daily_limit)}`),
      h('dt', null, 'Messages in all'),
      h('dd', null, `${fmt.number(user.figures.messages_total)} (${fmt.number(user.figures.replies_total)} answered)`),
      h('dt', null, 'Tokens'),
      h('dd', null, fmt.number(user.figures.tokens.total)),
      h('dt', null, 'Media today'),
      h('dd', null, `${fmt.number(user.media.speech_seconds_today)} s of speech, ${fmt.number(user.media.pictures_today)} pictures`),
      h('dt', null, 'Last activity'),
      h('dd', null, fmt.dateTime(user.figures.last_activity)),
    );
    const credits = h('div');
    fill(credits, () => userCredits(user, credits));
    const keys = h('div');
    fill(keys, () => userKeys(user));
    return h(
      'div',
      { class: 'grid' },
      card(`${user.username}${user.disabled ? ' (disabled)' : ''}`, figures, edit),
      h('div', { class: 'stack' }, card('Credits', credits), card('API keys', keys)),
    );
  }

  async function userCredits(user, holder) {
    let credits;
    try {
      credits = await api.get(`admin/users/${user.id}/credits`, { page_size: 5 });
    } catch (error) {
      if (error.code === 'credits_disabled') return h('p', { class: 'muted' }, 'Credits are off on this server.');
      throw error;
    }
    const errors = errorBox();
    const delta = h('input', { type: 'number', step: '0.0001', placeholder: '+10 or -2.5', required: true });
    const reason = h('input', { maxlength: 200, placeholder: 'Why (kept in their ledger)', required: true });
    const adjust = form({ class: 'row wrap' }, [field('Credits', delta), field('Reason', reason), h('button', { type: 'submit' }, 'Adjust')], (_, button) =>
      busy(button, async () => {
        await api.post(`admin/users/${user.id}/credits`, { delta: delta.value, reason: reason.value });
        await fill(holder, () => userCredits(user, holder));
      }, errors),
    );
    const box = h(
      'div',
      null,
      h('div', { class: 'stats' }, h('div', { class: 'stat' }, h('span', { class: 'label' }, 'Available'), h('strong', null, fmt.credits(credits.available))), h('div', { class: 'stat' }, h('span', { class: 'label' }, 'On hold'), h('strong', null, fmt.credits(credits.on_hold)))),
      table(
        [
          { title: 'When', value: (e) => fmt.dateTime(e.created_at) },
          { title: 'What', value: (e) => e.kind },
          { title: 'Credits', value: (e) => fmt.credits(e.delta), numeric: true },
        ],
        credits.ledger.items,
        { emptyText: 'No changes yet.' },
      ),
      adjust,
      errors,
    );
    return box;
  }

  async function userKeys(user) {
    const found = await api.get('admin/keys', { username: user.username, page_size: 50 });
    const errors = errorBox();
    const holder = h('div');
    const rows = table(
      [
        { title: 'Name', value: (k) => k.name },
        { title: 'Key', value: (k) => h('code', null, `${k.prefix}…`) },
        { title: 'Uses', value: (k) => fmt.number(k.uses), numeric: true },
        { title: 'Status', value: (k) => badge(k.enabled, 'enabled', 'disabled') },
        {
          title: '',
          value: (k) => {
            const button = h('button', { type: 'button', class: 'small', testid: 'admin-key-toggle' }, k.enabled ? 'Disable' : 'Enable');
            button.addEventListener('click', () => busy(button, async () => {
              await api.patch(`admin/keys/${k.id}`, { enabled: !k.enabled });
              replace(holder, await userKeys(user));
            }, errors));
            return button;
          },
        },
      ],
      found.items,
      { emptyText: 'No keys.' },
    );
    return replace(holder, rows, errors);
  }

  const createErrors = errorBox();
  const newName = h('input', { maxlength: 32, placeholder: 'username', autocomplete: 'off' });
  const newPassword = h('input', { type: 'password', autocomplete: 'new-password', placeholder: 'at least 8 characters' });
  const newRole = h('select', null, h('option', { value: 'user' }, 'user'), h('option', { value: 'admin' }, 'admin'));
  const create = form({ class: 'row wrap' }, [field('Username', newName), field('Password', newPassword), field('Role', newRole), h('button', { type: 'submit' }, 'Create user')], (element, button) =>
    busy(button, async () => {
      await api.post('admin/users', { username: newName.value.trim(), password: newPassword.value, role: newRole.value });
      element.reset();
      await reload();
    }, createErrors),
  );

  reload();
  return h(
    'div',
    { class: 'stack' },
    card('Users', h('div', { class: 'row wrap filters' }, search, role, disabled, sort), results),
    detail,
    card('New user', create, createErrors),
  );
}

// --- redeem codes ---
function codesSection() {
  const state = { status: '', page: 1 };
  const results = h('div');
  const made = h('div', { class: 'made', hidden: true });
  const errors = errorBox('codes-error');
  const statusSelect = h('select', { 'aria-label': 'Status', testid: 'codes-status' }, CODE_STATUSES.map((s) => h('option', { value: s }, s || 'Any status')));
  statusSelect.addEventListener('change', () => {
    state.status = statusSelect.value;
    reload();
  });
  const reload = (page = 1) => {
    state.page = page;
    return fill(results, codesTable);
  };
  const rows = (codes) => [['code', 'credits', 'status', 'note', 'created_at', 'expires_at', 'used_by_name', 'used_at'], ...codes.map((c) => [c.code, c.credits, c.status, c.note, c.created_at, c.expires_at, c.used_by_name, c.used_at])];

  async function codesTable() {
    let found;
    try {
      found = await api.get('admin/codes', { page: state.page, page_size: PAGE_SIZE, status: state.status });
    } catch (error) {
      if (error.code === 'credits_disabled') return h('p', { testid: 'credits-off' }, 'Credits are off on this server (SIMPLECHAT_CREDITS=on turns them on).');
      throw error;
    }
    return h(
      'div',
      null,
      table(
        [
          { title: 'Code', value: (c) => h('code', null, c.code) },
          { title: 'Credits', value: (c) => fmt.credits(c.credits), numeric: true },
          { title: 'Status', value: (c) => h('span', { class: `badge ${c.status === 'unused' ? 'ok' : 'off'}` }, c.status) },
          { title: 'Note', value: (c) => c.note || '' },
          { title: 'Created', value: (c) => fmt.day(c.created_at) },
          { title: 'Used by', value: (c) => (c.used_by_name ? `${c.used_by_name}, ${fmt.ago(c.used_at)}` : '') },
          {
            title: '',
            value: (c) => {
              if (c.status !== 'unused' && c.status !== 'expired') return '';
              const button = h('button', { type: 'button', class: 'small danger' }, 'Disable');
              button.addEventListener('click', () => busy(button, async () => {
                await api.del(`admin/codes/${encodeURIComponent(c.code)}`);
                await reload(state.page);
              }, errors));
              return button;
            },
          },
        ],
        found.items,
        { testid: 'codes', emptyText: 'No codes.', rowProps: () => ({ testid: 'code-row' }) },
      ),
      pager(found, reload),
    );
  }

  const exportButton = h('button', { type: 'button', testid: 'codes-export' }, 'Export CSV');
  exportButton.addEventListener('click', () => busy(exportButton, async () => {
    const all = [];
    for (let page = 1; page <= EXPORT_MAX_PAGES; page += 1) {
      const found = await api.get('admin/codes', { page, page_size: 100, status: state.status });
      all.push(...found.items);
      if (all.length >= found.total || !found.items.length) break;
    }
    download(`redeem-codes${state.status ? `-${state.status}` : ''}.csv`, fmt.csv(rows(all)), 'text/csv');
  }, errors));

  const amount = h('input', { type: 'number', min: '0.0001', step: '0.0001', placeholder: '10', required: true, testid: 'codes-credits' });
  const count = numberInput({ value: 1, min: 1, max: 100, testid: 'codes-count' });
  const expires = h('input', { type: 'date' });
  const note = h('input', { maxlength: 200, placeholder: 'Launch giveaway' });
  const create = form({ class: 'stack' }, [
    h('div', { class: 'row wrap' }, field('Credits each', amount), field('How many (1-100)', count), field('Expires', expires), field('Note', note)),
    h('button', { type: 'submit', class: 'primary', testid: 'codes-create' }, 'Create codes'),
  ], (element, button) =>
    busy(button, async () => {
      const body = { credits: amount.value, count: optionalInt(count) || 1, note: note.value.trim() || null };
      if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
      const created = await api.post('admin/codes', body);
      element.reset();
      const csvButton = h('button', { type: 'button', onclick: () => download('new-redeem-codes.csv', fmt.csv(rows(created.codes)), 'text/csv') }, 'Download these as CSV');
      replace(made, h('p', null, `${fmt.plural(created.codes.length, 'code')} made:`), h('pre', { class: 'codes', testid: 'codes-made' }, created.codes.map((c) => c.code).join('\n')), csvButton);
      made.hidden = false;
      await reload();
    }, errors),
  );
  reload();
  return h('div', { class: 'stack' }, card('New redeem codes', create, made, errors), card('Redeem codes', h('div', { class: 'row wrap filters' }, statusSelect, exportButton), results));
}

// --- presets ---
function presetsSection() {
  const results = h('div');
  const errors = errorBox('presets-error');
  const editor = h('div');
  let models = [];
  const reload = () => fill(results, presetsTable);

  async function presetsTable() {
    const found = await api.get('presets', { page_size: 100 });
    const shared = found.items.filter((p) => p.public);
    return table(
      [
        { title: 'Name', value: (p) => h('strong', null, p.name) },
        { title: 'Description', value: (p) => p.description },
        { title: 'Model', value: (p) => p.parameters.model || 'default' },
        { title: 'Kind', value: (p) => (p.builtin ? `built in (${p.builtin})` : 'public') },
        {
          title: '',
          value: (p) => {
            if (p.builtin) return h('span', { class: 'muted' }, 'from the settings');
            const edit = h('button', { type: 'button', class: 'small', onclick: () => showEditor(p) }, 'Edit');
            const remove = h('button', { type: 'button', class: 'small danger' }, 'Delete');
            remove.addEventListener('click', () => {
              if (!window.confirm(`Delete the preset “${p.name}”? Conversations made from it keep their copy.`)) return;
              busy(remove, async () => {
                await api.del(`presets/${p.id}`);
                await reload();
              }, errors);
            });
            return h('span', { class: 'actions' }, edit, remove);
          },
        },
      ],
      shared,
      { testid: 'presets', emptyText: 'No public presets.', rowProps: () => ({ testid: 'preset-row' }) },
    );
  }

  function showEditor(preset) {
    const system = preset ? preset.messages.find((m) => m.role === 'system') : null;
    const name = h('input', { maxlength: 100, value: preset ? preset.name : '', required: true, testid: 'preset-name' });
    const description = h('input', { maxlength: 500, value: preset ? preset.description : '' });
    const prompt = h('textarea', { rows: 5, maxlength: 32000, testid: 'preset-prompt' }, system ? system.content : '');
    const visible = h('input', { type: 'checkbox', checked: system ? system.visible : false });
    const model = h('select', null, h('option', { value: '' }, 'The default model'), models.map((m) => h('option', { value: m.name }, m.name)));
    model.value = (preset && preset.parameters.model) || '';
    const temperature = h('input', { type: 'number', min: 0, max: 2, step: 0.1, value: preset && preset.parameters.temperature !== null ? preset.parameters.temperature : '', placeholder: 'default' });
    const maxTokens = numberInput({ min: 1, value: preset && preset.parameters.max_tokens !== null ? preset.parameters.max_tokens : '', placeholder: 'default' });
    const editorErrors = errorBox();
    replace(
      editor,
      card(
        preset ? `Edit “${preset.name}”` : 'New public preset',
        form({ class: 'stack' }, [
          h('div', { class: 'row wrap' }, field('Name', name), field('Description', description)),
          field('System prompt', prompt),
          h('label', { class: 'check' }, visible, 'Users see the prompt in their conversations'),
          h('div', { class: 'row wrap' }, field('Model', model), field('Temperature', temperature), field('Max output tokens', maxTokens)),
          editorErrors,
          h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', testid: 'preset-save' }, preset ? 'Save' : 'Create'), h('button', { type: 'button', class: 'ghost', onclick: () => replace(editor, newButton()) }, 'Cancel')),
        ], (_, button) =>
          busy(button, async () => {
            const body = {
              name: name.value.trim(),
              description: description.value.trim(),
              messages: prompt.value.trim() ? [{ role: 'system', content: prompt.value.trim(), visible: visible.checked }] : [],
              parameters: {
                model: model.value || null,
                temperature: temperature.value === '' ? null : Number(temperature.value),
                top_p: preset ? preset.parameters.top_p : null,
                max_tokens: optionalInt(maxTokens),
              },
            };
            if (preset) await api.patch(`presets/${preset.id}`, body);
            else await api.post('presets', { ...body, public: true });
            replace(editor, newButton());
            await reload();
          }, editorErrors),
        ),
      ),
    );
  }

  function newButton() {
    return h('button', { type: 'button', class: 'primary', testid: 'preset-new', onclick: () => showEditor(null) }, 'New public preset');
  }

  api.get('llm/models').then((found) => (models = found)).catch(() => {});
  replace(editor, newButton());
  reload();
  return h('div', { class: 'stack' }, card('Public presets', h('p', { class: 'muted' }, 'Everyone can start a conversation from these. The built-in plain and caring presets come from the server’s settings.'), errors, results), editor);
}

// --- usage ---
function usageSection() {
  const results = h('div');
  let days = 30;
  const range = h('select', { 'aria-label': 'Period', testid: 'usage-range' }, USAGE_RANGES.map((d) => h('option', { value: d }, `Last ${d} days`)));
  range.value = String(days);
  range.addEventListener('change', () => {
    days = Number(range.value);
    fill(results, charts);
  });

  async function charts() {
    const end = new Date();
    const start = new Date(end.getTime() - (days - 1) * 86_400_000);
    const usage = await api.get('admin/usage', { from: isoDay(start), to: isoDay(end) });
    const series = (pick) => dailySeries(usage.from, usage.to, usage.by_day, pick);
    const total = usage.total;
    return h(
      'div',
      { class: 'stack', testid: 'admin-usage' },
      h('div', { class: 'stats' }, [
        ['Answers', fmt.number(total.replies)],
        ['Tokens', fmt.number(total.total_tokens)],
        ['Credits', fmt.credits(total.cost)],
        ['Models', fmt.number(usage.by_model.length)],
      ].map(([label, value]) => h('div', { class: 'stat' }, h('span', { class: 'label' }, label), h('strong', null, value)))),
      h(
        'div',
        { class: 'grid charts' },
        barChart({ title: 'Answers per day', ...series((d) => d.replies), testid: 'usage-messages-chart' }),
        barChart({ title: 'Tokens per day', ...series((d) => d.total_tokens), testid: 'usage-tokens-chart', tone: 'accent' }),
        barChart({ title: 'Credits per day', ...series((d) => d.cost), format: fmt.credits, testid: 'usage-credits-chart', tone: 'warm' }),
      ),
      h('h3', null, 'Per model'),
      usage.by_model.length
        ? shareTable({
            rows: [...usage.by_model].sort((a, b) => b.total_tokens - a.total_tokens),
            columns: [
              { title: 'Model', value: (m) => m.model },
              { title: 'Answers', value: (m) => fmt.number(m.replies), numeric: true },
              { title: 'Prompt tokens', value: (m) => fmt.number(m.prompt_tokens), numeric: true },
              { title: 'Output tokens', value: (m) => fmt.number(m.completion_tokens), numeric: true },
              { title: 'Credits', value: (m) => fmt.credits(m.cost), numeric: true },
            ],
            barOf: (m) => m.total_tokens,
            testid: 'usage-models',
          })
        : empty('No answers in this period.'),
      h('p', { class: 'muted' }, 'From the usage records of every answer (speech and picture requests under their engine’s name), in the server’s timezone.'),
    );
  }
  fill(results, charts);
  return card('Usage', h('div', { class: 'row wrap filters' }, range), results);
}

// --- audit log ---
function auditSection() {
  const results = h('div');
  const reload = (page = 1) => fill(results, () => auditTable(page));
  async function auditTable(page) {
    const found = await api.get('admin/audit', { page, page_size: PAGE_SIZE });
    return h(
      'div',
      null,
      table(
        [
          { title: 'When', value: (e) => fmt.dateTime(e.at) },
          { title: 'Who', value: (e) => e.actor },
          { title: 'What', value: (e) => h('code', null, e.action) },
          { title: 'On', value: (e) => e.target || '' },
          { title: 'From', value: (e) => e.ip || '' },
          { title: 'Details', value: (e) => h('code', { class: 'details' }, JSON.stringify(e.details)) },
        ],
        found.items,
        { testid: 'audit', emptyText: 'No admin action yet.', rowProps: () => ({ testid: 'audit-row' }) },
      ),
      pager(found, reload),
    );
  }
  reload();
  return card('Audit log', h('p', { class: 'muted' }, 'Every admin action, newest first (passwords are never recorded).'), results);
}

const SECTIONS = [
  { id: 'users', title: 'Users', view: usersSection },
  { id: 'codes', title: 'Redeem codes', view: codesSection },
  { id: 'presets', title: 'Presets', view: presetsSection },
  { id: 'usage', title: 'Usage', view: usageSection },
  { id: 'audit', title: 'Audit log', view: auditSection },
  // Channels (issue 27): { id: 'channels', title: 'Channels', view: channelsSection }, showing
  // each upstream channel and its health, once the API has them.
];

export function adminView(container, ctx) {
  const bar = h('div');
  const body = h('div', { class: 'section-body' });
  let currentSection = null;
  function show(id) {
    const section = SECTIONS.find((s) => s.id === id) || SECTIONS[0];
    if (section.id === currentSection) return;
    currentSection = section.id;
    replace(bar, tabs(SECTIONS, section.id, (next) => ctx.navigate('admin', next), 'admin-tab'));
    replace(body, loading());
    replace(body, section.view(ctx));
  }
  replace(container, h('div', { class: 'page' }, h('h1', null, 'Admin'), bar, body));
  show(ctx.params[0]);
  return { update: (params) => show(params[0]) };
}
