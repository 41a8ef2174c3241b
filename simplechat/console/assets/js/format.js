// How numbers, credits and times are shown.

const numberFormat = new Intl.NumberFormat();
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

export const UNITS_PER_CREDIT = 10_000; // keys' max_credits and credits_left are in 1/10,000

export function number(n) {
  return n === null || n === undefined ? '–' : numberFormat.format(n);
}

export function compact(n) {
  return n === null || n === undefined ? '–' : compactFormat.format(n);
}

/** A credit amount as the API writes it ("12.5000"): trailing zeros dropped, at least 2 places. */
export function credits(amount) {
  if (amount === null || amount === undefined) return '–';
  const value = Number(amount);
  if (!Number.isFinite(value)) return String(amount);
  return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 4 });
}

export function unitsToCredits(units) {
  return units === null || units === undefined ? null : units / UNITS_PER_CREDIT;
}

export function creditsToUnits(text) {
  const value = Number(String(text).trim());
  return Number.isFinite(value) ? Math.round(value * UNITS_PER_CREDIT) : NaN;
}

export function dateTime(iso) {
  if (!iso) return '–';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleString();
}

export function day(iso) {
  if (!iso) return '–';
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : when.toLocaleDateString();
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const STEPS = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Infinity],
];

export function ago(iso) {
  if (!iso) return 'never';
  let delta = (new Date(iso).getTime() - Date.now()) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(delta) < size) return RELATIVE.format(Math.round(delta), unit);
    delta /= size;
  }
  return dateTime(iso);
}

/** "32k", "1M": a context window at a glance. */
export function tokensShort(n) {
  if (n >= 1_000_000) return `${Math.round(n / 100_000) / 10}M`;
  if (n >= 1_000) return `${Math.round(n / 100) / 10}k`;
  return String(n);
}

export function plural(n, noun, nouns = `${noun}s`) {
  return `${number(n)} ${n === 1 ? noun : nouns}`;
}

/** A CSV cell: quoted, and never read as a formula by a spreadsheet. */
export function csvCell(value) {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csv(rows) {
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
