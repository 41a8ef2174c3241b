// Bar charts drawn as SVG elements (geometry attributes and classes only: the CSP allows no
// inline style). Each bar has a <title>, which browsers show as a tooltip.

import { h, svg } from './dom.js';
import { compact, number } from './format.js';

const WIDTH = 480;
const HEIGHT = 180;
const PAD = { top: 12, right: 8, bottom: 28, left: 44 };

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * power >= value);
  return step * power;
}

/**
 * A bar chart of `values` (numbers) over `labels` (strings), as a figure with a caption.
 * `format` writes a value for the tooltips and the axis.
 */
export function barChart({ title, labels, values, format = number, testid, tone = 'primary' }) {
  const max = niceMax(Math.max(0, ...values));
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(values.length, 1);
  const barWidth = Math.max(Math.min(slot * 0.7, 40), 1);
  const every = Math.ceil(values.length / 8); // at most about 8 labels on the axis
  const axis = format === number ? compact : format;
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': title },
    [0, 0.5, 1].map((f) => {
      const y = PAD.top + plotHeight * (1 - f);
      return [
        svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: 'grid' }),
        svg('text', { x: PAD.left - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, axis(max * f)),
      ];
    }),
    values.map((value, i) => {
      const height = (plotHeight * value) / max;
      const x = PAD.left + slot * i + (slot - barWidth) / 2;
      return svg(
        'rect',
        { x, y: PAD.top + plotHeight - height, width: barWidth, height: Math.max(height, 0), class: `bar ${tone}` },
        svg('title', null, `${labels[i]}: ${format(value)}`),
      );
    }),
    labels.map((label, i) =>
      i % every === 0
        ? svg('text', { x: PAD.left + slot * i + slot / 2, y: HEIGHT - 8, class: 'axis', 'text-anchor': 'middle' }, label)
        : null,
    ),
  );
  const empty = values.every((v) => !v) ? h('p', { class: 'muted' }, 'Nothing yet.') : null;
  return h('figure', { class: 'chart-figure', testid }, h('figcaption', null, title), chart, empty);
}

/** Every day from `start` to `end` (YYYY-MM-DD) with its value, 0 for days without one. */
export function dailySeries(start, end, byDay, pick) {
  const labels = [];
  const values = [];
  const found = new Map(byDay.map((d) => [d.date, d]));
  const cursor = new Date(`${start}T00:00:00Z`);
  const last = new Date(`${end}T00:00:00Z`);
  while (cursor <= last) {
    const key = cursor.toISOString().slice(0, 10);
    labels.push(key.slice(5));
    values.push(found.has(key) ? Number(pick(found.get(key))) : 0);
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return { labels, values };
}

/** A table of rows with a bar for one of their numbers (a <meter>, no inline style). */
export function shareTable({ rows, columns, barOf, testid }) {
  const most = Math.max(0, ...rows.map(barOf));
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data', testid },
      h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.numeric ? 'num' : null }, c.title)), h('th', null, ''))),
      h(
        'tbody',
        null,
        rows.map((row) =>
          h(
            'tr',
            null,
            columns.map((c) => h('td', { class: c.numeric ? 'num' : null }, c.value(row))),
            h('td', { class: 'bar-cell' }, h('meter', { min: 0, max: most || 1, value: barOf(row) })),
          ),
        ),
      ),
    ),
  );
}
