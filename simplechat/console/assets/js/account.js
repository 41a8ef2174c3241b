// The account page: profile and avatar, password, usage and the behaviour report, credits and
// redeem codes, personal API keys, and the user's own provider keys.

import * as api from './api.js';
import { barChart, dailySeries, shareTable } from './charts.js';
import { h, replace } from './dom.js';
import * as fmt from './format.js';
import { API_ROOT } from './http.js';
import * as session from './session.js';
import { busy, card, errorBox, field, fill, form, loading, notice, numberInput, optionalInt, pager, table, tabs } from './ui.js';

const SECTIONS = [
  { id: 'profile', title: 'Profile' },
  { id: 'usage', title: 'Usage' },
  { id: 'credits', title: 'Credits' },
  { id: 'keys', title: 'API keys' },
  { id: 'providers', title: 'Provider keys' },
];
const PROVIDERS = [
  { id: 'openrouter', title: 'OpenRouter' },
  { id: 'dashscope', title: 'DashScope' },
  { id: 'openai', title: 'OpenAI-compatible' },
];
const LEDGER_PAGE_SIZE = 10;

function avatarImage(username, className) {
  const initial = h('span', { class: `${className} initial`, 'aria-hidden': 'true' }, username.slice(0, 1).toUpperCase());
  const image = h('img', { class: className, alt: 'Your avatar', src: `../users/${encodeURIComponent(username)}/avatar?v=${Date.now()}` });
  image.addEventListener('error', () => image.replaceWith(initial));
  return image;
}

// --- profile ---
function profileSection(ctx) {
  const me = ctx.me;
  const errors = errorBox('profile-error');
  const saved = notice('profile-saved');
  const displayName = h('input', { value: me.display_name || '', maxlength: 100, testid: 'profile-display-name', autocomplete: 'name' });
  const email = h('input', { type: 'email', value: me.email || '', maxlength: 254, testid: 'profile-email', autocomplete: 'email' });
  const picture = h('div', { class: 'avatar-frame' }, avatarImage(me.username, 'avatar big'));
  const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/gif', testid: 'avatar-file', class: 'file' });
  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    await busy(
      null,
      async () => {
        await api.call('user/me/avatar', { method: 'PUT', body: chosen, headers: { 'content-type': chosen.type || 'application/octet-stream' } });
        replace(picture, avatarImage(me.username, 'avatar big'));
        await ctx.refreshMe();
        saved.say('Avatar saved.');
      },
      errors,
    );
    file.value = '';
  });
  const profile = form({ class: 'stack' }, [
    h('div', { class: 'row' }, picture, h('div', { class: 'stack tight' }, h('strong', null, me.username), h('span', { class: 'muted' }, `${me.role === 'admin' ? 'Admin' : 'User'} since ${fmt.day(me.created_at)}`), field('New avatar (JPEG, PNG, WebP or GIF, up to 5 MB)', file))),
    field('Display name', displayName),
    field('Email', email),
    errors,
    saved,
    h('button', { type: 'submit', class: 'primary', testid: 'profile-save' }, 'Save'),
  ], (_, button) =>
    busy(
      button,
      async () => {
        await api.patch('user/me', { display_name: displayName.value.trim() || null, email: email.value.trim() || null });
        ctx.me = await ctx.refreshMe();
        saved.say('Saved.');
      },
      errors,
    ),
  );

  const passwordErrors = errorBox('password-error');
  const passwordSaved = notice('password-saved');
  const oldPassword = h('input', { type: 'password', autocomplete: 'current-password' });
  const newPassword = h('input', { type: 'password', autocomplete: 'new-password', minlength: 8 });
  const again = h('input', { type: 'password', autocomplete: 'new-password' });
  const password = form({ class: 'stack' }, [
    field('Current password', oldPassword),
    field('New password', newPassword, 'At least 8 characters. Your other sessions are logged out.'),
    field('New password again', again),
    passwordErrors,
    passwordSaved,
    h('button', { type: 'submit' }, 'Change password'),
  ], (element, button) =>
    busy(
      button,
      async () => {
        if (newPassword.value !== again.value) throw new Error('The two new passwords differ.');
        const tokens = await api.post('user/me/password', { old_password: oldPassword.value || null, new_password: newPassword.value });
        session.keep(tokens, 'refreshed');
        element.reset();
        passwordSaved.say('Password changed.');
      },
      passwordErrors,
    ),
  );

  const deleteErrors = errorBox('delete-error');
  const deletePassword = h('input', { type: 'password', autocomplete: 'current-password' });
  const removal = form({ class: 'stack' }, [
    h('p', { class: 'muted' }, 'Deletes the account and everything it owns (conversations, keys, avatar), for good.'),
    field('Your password', deletePassword),
    deleteErrors,
    h('button', { type: 'submit', class: 'danger' }, 'Delete my account'),
  ], (_, button) =>
    busy(
      button,
      async () => {
        if (!window.confirm('Delete your account and all its data? This cannot be undone.')) return;
        await api.del('user/me', { password: deletePassword.value });
        session.forget('signed-out');
      },
      deleteErrors,
    ),
  );
  return h('div', { class: 'grid' }, card('Profile', profile), card('Password', password), card('Delete the account', removal));
}

// --- usage ---
async function usageSection() {
  const [status, usage, report] = await Promise.all([api.get('user/status'), api.get('user/usage'), api.get('user/report')]);
  let quota = null;
  try {
    quota = await api.get('media/quota');
  } catch {
    quota = null;
  }
  const today = card(
    'Today',
    h(
      'dl',
      { class: 'figures', testid: 'usage-today' },
      h('dt', null, 'Messages'),
      h('dd', null, `${fmt.number(status.chat_cnt)} of ${fmt.number(status.daily_limit)} (${fmt.number(status.remaining)} left)`),
      h('dt', null, 'Burst'),
      h('dd', null, `at most ${status.burst_limit} in ${status.burst_window_seconds} s`),
      h('dt', null, 'Resets'),
      h('dd', null, fmt.dateTime(status.resets_at)),
      quota ? [h('dt', null, 'Speech'), h('dd', null, quotaText(quota.speech_seconds, ' s')), h('dt', null, 'Pictures'), h('dd', null, quotaText(quota.pictures, ''))] : null,
    ),
    h('meter', { min: 0, max: status.daily_limit || 1, value: status.chat_cnt, class: 'wide', title: 'Messages used today' }),
  );
  const tokens = dailySeries(usage.from, usage.to, usage.by_day, (d) => d.total_tokens);
  const cost = dailySeries(usage.from, usage.to, usage.by_day, (d) => d.cost);
  const periods = card(
    `Tokens and cost, ${fmt.day(usage.from)} to ${fmt.day(usage.to)}`,
    h('p', { class: 'muted' }, `${fmt.plural(usage.total.replies, 'answer')} · ${fmt.number(usage.total.total_tokens)} tokens · ${fmt.credits(usage.total.cost)} credits`),
    barChart({ title: 'Tokens per day', ...tokens, testid: 'usage-tokens-chart' }),
    barChart({ title: 'Credits per day', ...cost, format: fmt.credits, tone: 'accent' }),
    usage.by_model.length
      ? shareTable({
          rows: usage.by_model,
          columns: [
            { title: 'Model', value: (m) => m.model },
            { title: 'Answers', value: (m) => fmt.number(m.replies), numeric: true },
            { title: 'Tokens', value: (m) => fmt.number(m.total_tokens), numeric: true },
            { title: 'Credits', value: (m) => fmt.credits(m.cost), numeric: true },
          ],
          barOf: (m) => m.total_tokens,
        })
      : null,
  );
  const chart = h('img', { class: 'report-chart', alt: 'Your activity: messages per day and per hour', testid: 'report-chart' });
  api.blobUrl('user/report.svg').then((url) => (chart.src = url)).catch(() => chart.remove());
  const behaviour = card(
    'Behaviour report',
    h(
      'dl',
      { class: 'figures' },
      h('dt', null, 'Messages'),
      h('dd', null, `${fmt.number(report.totals.messages)} (${fmt.number(report.totals.advanced)} advanced, ${fmt.number(report.totals.openai)} via /v1)`),
      h('dt', null, 'Active days'),
      h('dd', null, fmt.number(report.active_days)),
      h('dt', null, 'Average message'),
      h('dd', null, `${fmt.number(Math.round(report.average_message_chars))} characters, ${fmt.number(Math.round(report.average_message_tokens))} tokens`),
      h('dt', null, 'Refused by limits'),
      h('dd', null, fmt.number(Object.values(report.limit_refusals).reduce((a, b) => a + b, 0))),
      h('dt', null, 'Last activity'),
      h('dd', null, fmt.dateTime(report.last_activity)),
    ),
    chart,
  );
  return h('div', { class: 'grid' }, today, periods, behaviour);
}

function quotaText(figures, unit) {
  if (!figures || typeof figures !== 'object') return '–';
  return `${fmt.number(figures.used)}${unit} of ${fmt.number(figures.limit)}${unit}`;
}

// --- credits ---
function creditsSection() {
  const wrap = h('div', { class: 'grid' });
  const balance = h('div');
  const ledger = h('div');
  const errors = errorBox('redeem-error');
  const result = notice('redeem-result');
  const code = h('input', { placeholder: 'XXXX-XXXX-…', autocomplete: 'off', spellcheck: 'false', testid: 'redeem-code', maxlength: 100 });
  const redeem = form({ class: 'stack' }, [
    field('A redeem code', code, 'Case, spaces and dashes do not matter.'),
    errors,
    result,
    h('button', { type: 'submit', class: 'primary', testid: 'redeem-submit' }, 'Redeem'),
  ], (element, button) =>
    busy(
      button,
      async () => {
        const done = await api.post('user/credits/redeem', { code: code.value });
        element.reset();
        result.say(`${fmt.credits(done.credited)} credits added: ${fmt.credits(done.available)} available.`);
        await load(1);
      },
      errors,
    ),
  );

  async function load(page) {
    replace(balance, loading());
    let credits;
    try {
      credits = await api.get('user/credits', { page, page_size: LEDGER_PAGE_SIZE });
    } catch (error) {
      if (error.code === 'credits_disabled') {
        replace(wrap, card('Credits', h('p', { testid: 'credits-off' }, 'Credits are off on this server: messages are limited by the daily count only.')));
        return;
      }
      const box = errorBox();
      box.show(error);
      replace(balance, box);
      return;
    }
    replace(
      balance,
      h(
        'div',
        { class: 'stats', testid: 'credits-balance' },
        stat('Available', fmt.credits(credits.available)),
        stat('On hold', fmt.credits(credits.on_hold)),
        stat('Balance', fmt.credits(credits.balance)),
      ),
    );
    replace(
      ledger,
      table(
        [
          { title: 'When', value: (e) => fmt.dateTime(e.created_at) },
          { title: 'What', value: (e) => e.kind },
          { title: 'Credits', value: (e) => fmt.credits(e.delta), numeric: true },
          { title: 'Note', value: (e) => e.note || e.reference || '' },
        ],
        credits.ledger.items,
        { testid: 'ledger', emptyText: 'No changes yet.' },
      ),
      pager(credits.ledger, load),
    );
  }
  replace(wrap, card('Credits', balance, h('h3', null, 'Ledger'), ledger), card('Redeem a code', redeem));
  load(1);
  return wrap;
}

function stat(label, value) {
  return h('div', { class: 'stat' }, h('span', { class: 'label' }, label), h('strong', null, value));
}

// --- API keys ---
function capsText(key) {
  const caps = [];
  if (key.models) caps.push(`models: ${key.models.join(', ')}`);
  if (key.daily_limit !== null) caps.push(`${fmt.number(key.daily_limit)} calls a day`);
  if (key.max_credits !== null) caps.push(`${fmt.credits(fmt.unitsToCredits(key.credits_left))} of ${fmt.credits(fmt.unitsToCredits(key.max_credits))} credits left`);
  if (key.expires_at) caps.push(`expires ${fmt.day(key.expires_at)}`);
  return caps.length ? caps.join(' · ') : 'no caps';
}

function keysSection() {
  const listBox = h('div');
  const errors = errorBox('key-error');
  const secretBox = h('div', { class: 'secret', hidden: true });
  const name = h('input', { maxlength: 100, placeholder: 'Open WebUI on my laptop', testid: 'key-name', required: true });
  const daily = numberInput({ placeholder: 'no cap', testid: 'key-daily-limit' });
  const maxCredits = h('input', { type: 'number', min: 0, step: '0.0001', placeholder: 'no cap', testid: 'key-max-credits' });
  const expires = h('input', { type: 'date', testid: 'key-expires' });
  const models = h('select', { multiple: true, size: 4, testid: 'key-models' });
  api
    .get('llm/models')
    .then((found) => replace(models, found.map((m) => h('option', { value: m.name }, m.name))))
    .catch(() => {});

  function showSecret(created) {
    const copy = h('button', { type: 'button', testid: 'key-copy' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(created.key);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Select it and copy';
      }
    });
    const base = new URL('v1', API_ROOT).href;
    replace(
      secretBox,
      h('p', null, h('strong', null, `“${created.name}” is ready. `), 'Copy the key now: it is shown this once and never again.'),
      h('div', { class: 'row' }, h('code', { class: 'key', testid: 'key-secret' }, created.key), copy),
      h('p', { class: 'muted' }, 'OpenAI SDKs and chat frontends take it with the base URL ', h('code', null, base), '.'),
      h('button', { type: 'button', class: 'ghost small', onclick: () => (secretBox.hidden = true) }, 'Done, hide it'),
    );
    secretBox.hidden = false;
  }

  const create = form({ class: 'stack' }, [
    field('Name', name),
    h('div', { class: 'row wrap' }, field('Calls a day', daily), field('Credits in all', maxCredits), field('Expires', expires)),
    field('Only these models (none chosen: all)', models),
    errors,
    h('button', { type: 'submit', class: 'primary', testid: 'key-create' }, 'Create key'),
  ], (element, button) =>
    busy(
      button,
      async () => {
        const chosen = [...models.selectedOptions].map((o) => o.value);
        const body = { name: name.value.trim() };
        const dailyLimit = optionalInt(daily);
        if (dailyLimit !== null) body.daily_limit = dailyLimit;
        if (maxCredits.value.trim()) body.max_credits = fmt.creditsToUnits(maxCredits.value);
        if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59`).toISOString();
        if (chosen.length) body.models = chosen;
        const created = await api.post('user/keys', body);
        element.reset();
        showSecret(created);
        await load();
      },
      errors,
    ),
  );

  async function keysTable() {
    const keys = await api.get('user/keys');
    return table(
        [
          { title: 'Name', value: (k) => k.name },
          { title: 'Key', value: (k) => h('code', null, k.masked) },
          { title: 'Caps', value: capsText },
          { title: 'Today', value: (k) => fmt.number(k.used_today), numeric: true },
          { title: 'In all', value: (k) => fmt.number(k.uses), numeric: true },
          { title: 'Last used', value: (k) => fmt.ago(k.last_used_at) },
          { title: 'Status', value: (k) => h('span', { class: k.enabled ? 'badge ok' : 'badge off' }, k.enabled ? 'enabled' : 'disabled') },
          { title: '', value: keyActions },
        ],
      keys,
      { testid: 'keys', rowProps: (k) => ({ testid: 'key-row', dataset: { id: k.id } }), emptyText: 'No keys yet.' },
    );
  }
  const load = () => fill(listBox, keysTable);

  function keyActions(key) {
    const toggle = h('button', { type: 'button', class: 'small', testid: 'key-toggle' }, key.enabled ? 'Disable' : 'Enable');
    toggle.addEventListener('click', () => busy(toggle, async () => {
      await api.patch(`user/keys/${key.id}`, { enabled: !key.enabled });
      await load();
    }, errors));
    const remove = h('button', { type: 'button', class: 'small danger', testid: 'key-delete' }, 'Delete');
    remove.addEventListener('click', () => {
      if (!window.confirm(`Delete the key “${key.name}”? It stops working at once.`)) return;
      busy(remove, async () => {
        await api.del(`user/keys/${key.id}`);
        await load();
      }, errors);
    });
    return h('span', { class: 'actions' }, toggle, remove);
  }

  const wrap = h('div', { class: 'grid' }, card('New API key', h('p', { class: 'muted' }, 'For frontends and SDKs: a key works wherever a login token does, as you, within the caps you give it.'), create, secretBox), card('Your keys', listBox));
  load();
  return wrap;
}

// --- provider keys ---
function providersSection() {
  const wrap = h('div');
  const errors = errorBox('provider-error');
  async function providersCard() {
    const stored = await api.get('user/provider-keys');
    const byProvider = new Map(stored.keys.map((k) => [k.provider, k]));
    const modes = {
      off: 'This server uses only its own provider keys (BYOK is off).',
      allowed: 'Your key, when you store one, is used for your calls instead of the server’s.',
      required: 'Calls to a provider need your own key for it.',
    };
    const rows = PROVIDERS.map((provider) => {
      const current = byProvider.get(provider.id);
      const input = h('input', { type: 'password', autocomplete: 'off', placeholder: current ? `…${current.last4}` : 'paste the key', testid: `provider-key-${provider.id}`, disabled: stored.byok === 'off' });
      const save = h('button', { type: 'submit', class: 'small', disabled: stored.byok === 'off' }, current ? 'Replace' : 'Save');
      const remove = current ? h('button', { type: 'button', class: 'small danger' }, 'Remove') : null;
      if (remove) {
        remove.addEventListener('click', () => busy(remove, async () => {
          await api.del(`user/provider-keys/${provider.id}`);
          await load();
        }, errors));
      }
      return form({ class: 'provider-row' }, [
        h('div', { class: 'stack tight' }, h('strong', null, provider.title), h('span', { class: 'muted' }, current ? `stored, ends in ${current.last4}, ${fmt.ago(current.updated_at)}` : 'not stored')),
        input,
        h('span', { class: 'actions' }, save, remove),
      ], (_, button) =>
        busy(button, async () => {
          await api.put(`user/provider-keys/${provider.id}`, { api_key: input.value.trim() });
          await load();
        }, errors),
      );
    });
    return card('Your own provider keys', h('p', { class: 'muted', testid: 'byok-mode' }, modes[stored.byok] || stored.byok), h('p', { class: 'muted' }, 'Stored encrypted; never shown again, only their last 4 characters.'), errors, rows);
  }
  const load = () => fill(wrap, providersCard);
  load();
  return wrap;
}

export function accountView(container, ctx) {
  const body = h('div', { class: 'section-body' });
  let currentSection = null;
  const bar = h('div');

  function show(id) {
    const section = SECTIONS.find((s) => s.id === id) ? id : 'profile';
    if (section === currentSection) return;
    currentSection = section;
    replace(bar, tabs(SECTIONS, section, (next) => ctx.navigate('account', next), 'account-tab'));
    if (section === 'profile') replace(body, profileSection(ctx));
    else if (section === 'usage') fill(body, usageSection);
    else if (section === 'credits') replace(body, creditsSection());
    else if (section === 'keys') replace(body, keysSection());
    else replace(body, providersSection());
  }

  replace(container, h('div', { class: 'page' }, h('h1', null, 'Account'), bar, body));
  show(ctx.params[0]);
  return { update: (params) => show(params[0]) };
}
