/**
 * The report's charts as inline SVG: no script and nothing fetched, so the page renders the same
 * from a share, a ticket attachment or a browser without network. Every text in them is escaped.
 */
import type { Job } from '../protocol/objects.js';
import { DAY_MS } from '../util/clock.js';
import type { CapacityPoint } from './reportData.js';
import { esc, formatDay, formatTime } from './text.js';

export type Outcome = Job['Outcome'];

/** One colour per outcome, the legend's too; distinct in lightness as well as hue. */
export const OUTCOME_COLOURS: Record<Outcome, string> = {
  Succeeded: '#2e7d32',
  PartialSucceeded: '#f2a900',
  Failed: '#c62828',
  Skipped: '#9e9e9e',
  Cancelled: '#6a1b9a',
  Running: '#1565c0',
};

const WIDTH = 760;
const LEFT = 78;
const RIGHT = 12;
const PLOT = WIDTH - LEFT - RIGHT;

const svgOpen = (height: number, label: string, name: string) =>
  `<svg class="chart ${name}-chart" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="${esc(label)}">`;

/** Vertical day lines with their dates, for charts whose x axis is time. */
function dayGrid(from: number, to: number, top: number, bottom: number): string {
  const xOf = (time: number) => LEFT + ((time - from) / (to - from)) * PLOT;
  const lines: string[] = [];
  const step = to - from > 8 * DAY_MS ? 2 * DAY_MS : DAY_MS;
  for (let day = Math.ceil(from / DAY_MS) * DAY_MS; day <= to; day += step) {
    const x = xOf(day).toFixed(1);
    lines.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${top}" y2="${bottom}"/>`,
      `<text class="axis" x="${x}" y="${bottom + 14}" text-anchor="middle">${esc(formatDay(day))}</text>`,
    );
  }
  return lines.join('');
}

/** The backups of the window as marks on a time line, coloured by outcome. */
export function timelineSvg(backups: Job[], from: number, to: number): string {
  const height = 64;
  const xOf = (time: number) => LEFT + ((Math.min(to, Math.max(from, time)) - from) / (to - from)) * PLOT;
  // Skipped slots ran nothing: drawn first and short, so a backup at the same time stays visible.
  const skippedFirst = [...backups].sort(
    (a, b) => Number(b.Outcome === 'Skipped') - Number(a.Outcome === 'Skipped'),
  );
  const marks = skippedFirst.map((job) => {
    const tip = `${formatTime(job.StartTime)} · ${job.Outcome}${job.IsAutomatic ? ' · scheduled' : ' · on demand'}${job.ErrorMessage ? ` · ${job.ErrorMessage}` : ''}`;
    const [y, markHeight] = job.Outcome === 'Skipped' ? [17, 12] : [10, 26];
    return `<rect class="backup-mark" data-outcome="${esc(job.Outcome)}" x="${(xOf(Date.parse(job.StartTime)) - 3).toFixed(1)}" y="${y}" width="6" height="${markHeight}" rx="2" fill="${OUTCOME_COLOURS[job.Outcome]}"><title>${esc(tip)}</title></rect>`;
  });
  return `${svgOpen(height, 'Backups of the retention window by outcome', 'timeline')}<line class="axis-line" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="23" y2="23"/>${dayGrid(from, to, 6, 40)}${marks.join('')}<text class="axis" x="${LEFT - 8}" y="27" text-anchor="end">backups</text></svg>`;
}

export interface Bar {
  value: number;
  outcome: Outcome;
  tip: string;
}

/** One bar (class `<name>-bar`) per backup, oldest on the left, its height the value, its colour the outcome. */
export function barChartSvg(
  bars: Bar[],
  name: string,
  label: string,
  formatValue: (value: number) => string,
): string {
  const height = 150;
  const top = 12;
  const bottom = height - 20;
  const max = Math.max(...bars.map((bar) => bar.value), 0);
  const slot = PLOT / Math.max(bars.length, 1);
  const width = Math.max(1, Math.min(28, slot * 0.8));
  const rects = bars.map((bar, index) => {
    const barHeight = max > 0 ? Math.max(1, (bar.value / max) * (bottom - top)) : 1;
    const x = LEFT + index * slot + (slot - width) / 2;
    return `<rect class="${name}-bar" x="${x.toFixed(1)}" y="${(bottom - barHeight).toFixed(1)}" width="${width.toFixed(1)}" height="${barHeight.toFixed(1)}" fill="${OUTCOME_COLOURS[bar.outcome]}"><title>${esc(bar.tip)}</title></rect>`;
  });
  const axis = `<line class="axis-line" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${bottom}" y2="${bottom}"/><text class="axis" x="${LEFT - 8}" y="${top + 8}" text-anchor="end">${esc(formatValue(max))}</text><text class="axis" x="${LEFT - 8}" y="${bottom}" text-anchor="end">0</text><text class="axis" x="${LEFT}" y="${height - 4}">oldest</text><text class="axis" x="${WIDTH - RIGHT}" y="${height - 4}" text-anchor="end">newest</text>`;
  return `${svgOpen(height, label, name)}${axis}${rects.join('')}</svg>`;
}

/** Free space on the store over the window: a line from 0 (bottom) to the store's size (top). */
export function capacitySvg(
  points: CapacityPoint[],
  from: number,
  to: number,
  formatBytes: (bytes: number) => string,
): string {
  const height = 170;
  const top = 12;
  const bottom = height - 24;
  const total = Math.max(...points.map((point) => point.TotalBytes), 1);
  const xOf = (time: string) => LEFT + ((Date.parse(time) - from) / (to - from)) * PLOT;
  const yOf = (bytes: number) => bottom - (bytes / total) * (bottom - top);
  const placed = points.map((point) => ({
    point,
    x: xOf(point.Time).toFixed(1),
    y: yOf(point.AvailableBytes).toFixed(1),
  }));
  const dots = placed.map(
    ({ point, x, y }) =>
      `<circle class="capacity-point" cx="${x}" cy="${y}" r="3"><title>${esc(`${formatTime(point.Time)} · ${formatBytes(point.AvailableBytes)} free of ${formatBytes(point.TotalBytes)}`)}</title></circle>`,
  );
  const axis = `<line class="axis-line" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${bottom}" y2="${bottom}"/><line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${top}" y2="${top}"/><text class="axis" x="${LEFT - 8}" y="${top + 4}" text-anchor="end">${esc(formatBytes(total))}</text><text class="axis" x="${LEFT - 8}" y="${bottom}" text-anchor="end">0</text>`;
  return `${svgOpen(height, 'Free space on the store over time', 'capacity')}${axis}${dayGrid(from, to, top, bottom)}<polyline class="capacity-line" points="${placed.map(({ x, y }) => `${x},${y}`).join(' ')}"/>${dots.join('')}</svg>`;
}
