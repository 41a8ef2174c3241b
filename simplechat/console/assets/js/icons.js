// A few line icons as SVG paths (24x24, drawn with currentColor): emoji need a font the
// machine may not have, and an icon font would be one more file to load.

import { svg } from './dom.js';

const PATHS = {
  attach: 'M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9',
  pencil: 'M4 20h4l10.5-10.5a2.1 2.1 0 0 0-4-4L4 16v4z M13.5 6.5l4 4',
  trash: 'M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3',
  menu: 'M4 6h16 M4 12h16 M4 18h16',
  again: 'M20 11a8 8 0 1 0-2.3 5.7 M20 4v7h-7',
};

export function icon(name) {
  return svg(
    'svg',
    { viewBox: '0 0 24 24', class: 'icon', 'aria-hidden': 'true', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round' },
    svg('path', { d: PATHS[name] }),
  );
}
