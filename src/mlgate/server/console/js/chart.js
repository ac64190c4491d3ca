// @ts-check
// Line charts drawn on <canvas>: a live chart of a few named series over the last `span` samples (the
// console's pages), and a fixed chart of lines with shaded bands (the MCP Apps forecast view). Both draw
// their title, legend and value grid with `frame`.

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

/**
 * @param {string} title
 * @returns {HTMLCanvasElement}
 */
function canvasFor(title) {
  const canvas = document.createElement("canvas");
  canvas.className = "chart";
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", title);
  return canvas;
}

/**
 * A cleared 2-D context sized to the canvas as laid out.
 * @param {HTMLCanvasElement} c
 * @returns {{ g: CanvasRenderingContext2D, width: number, height: number }}
 */
function context(c) {
  const ratio = window.devicePixelRatio || 1;
  const width = c.clientWidth || 480;
  const height = c.clientHeight || 180;
  c.width = width * ratio;
  c.height = height * ratio;
  const g = c.getContext("2d");
  if (!g) throw new Error("this browser draws no 2-D canvas");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  return { g, width, height };
}

/** @param {number} v */
function label(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : String(Number(v.toPrecision(2)));
}

/**
 * The plot area: margins, each legend entry's place and the value → pixel mapping of y.
 * @typedef {{ left: number, right: number, top: number, bottom: number, places: [number, number][], y: (v: number) => number }} Box
 */

/**
 * Title, legend (wrapped onto more lines when the names do not fit) and a grid from `lo` to `hi`.
 * @param {CanvasRenderingContext2D} g
 * @param {number} width
 * @param {number} height
 * @param {string} title
 * @param {string[]} names
 * @param {number} lo
 * @param {number} hi
 * @returns {Box}
 */
function frame(g, width, height, title, names, lo, hi) {
  /** @type {[number, number][]} */
  const places = [];
  let lx = 48 + g.measureText(title).width + 16,
    ly = 13;
  for (const name of names) {
    const w = g.measureText(name).width + 26;
    if (lx + w > width - 8 && lx > 48) {
      lx = 48;
      ly += 13;
    }
    places.push([lx, ly]);
    lx += w;
  }
  const top = ly + 9;
  const bottom = 18;
  /** @type {Box} */
  const box = { left: 48, right: 8, top, bottom, places, y: (v) => top + (height - top - bottom) * (1 - (v - lo) / (hi - lo || 1)) };
  g.fillStyle = "#111827";
  g.fillText(title, box.left, 13);
  g.strokeStyle = "#e5e7eb";
  g.fillStyle = "#6b7280";
  for (let i = 0; i <= 4; i++) {
    const y = box.top + ((height - box.top - box.bottom) * i) / 4;
    g.beginPath();
    g.moveTo(box.left, y);
    g.lineTo(width - box.right, y);
    g.stroke();
    g.fillText(label(hi - ((hi - lo) * i) / 4), 4, y + 4);
  }
  return box;
}

/**
 * @param {CanvasRenderingContext2D} g
 * @param {Box} box
 * @param {number} k the entry's place
 * @param {string} name
 * @param {string} color
 */
function legend(g, box, k, name, color) {
  const [px, py] = box.places[k];
  g.fillStyle = color;
  g.fillRect(px, py - 8, 10, 8);
  g.fillStyle = "#374151";
  g.fillText(name, px + 13, py);
}

export class LineChart {
  /**
   * @param {string} title
   * @param {string} unit
   * @param {number} [span] how many samples the chart shows
   */
  constructor(title, unit, span = 90) {
    this.title = title;
    this.unit = unit;
    this.span = span;
    /** @type {Map<string, (number | null)[]>} name → one value (or a gap) per sample */
    this.series = new Map();
    this.canvas = canvasFor(title);
  }

  /**
   * One sample per series; a series missing from `values` gets a gap.
   * @param {Record<string, number | null | undefined>} values
   */
  push(values) {
    for (const name of Object.keys(values)) {
      if (!this.series.has(name)) this.series.set(name, new Array(this.length()).fill(null));
    }
    for (const [name, points] of this.series) {
      const v = values[name];
      points.push(v === undefined || v === null || Number.isNaN(v) ? null : v);
      if (points.length > this.span) points.shift();
    }
    this.draw();
  }

  /** @returns {number} */
  length() {
    const first = this.series.values().next().value;
    return first ? first.length : 0;
  }

  /**
   * @param {string} name
   * @returns {number | null}
   */
  latest(name) {
    const points = this.series.get(name) || [];
    return points.length ? points[points.length - 1] : null;
  }

  draw() {
    const { g, width, height } = context(this.canvas);
    const names = [...this.series.keys()];
    const values = [...this.series.values()].flat().filter((v) => v !== null);
    const max = Math.max(...values, 0) > 0 ? Math.max(...values) * 1.15 : 1;
    const box = frame(g, width, height, `${this.title} (${this.unit})`, names, 0, max);
    /** @param {number} i */
    const x = (i) => box.left + ((width - box.left - box.right) * i) / Math.max(1, this.span - 1);
    names.forEach((name, k) => {
      const points = this.series.get(name) || [];
      const color = COLORS[k % COLORS.length];
      g.strokeStyle = color;
      g.lineWidth = 1.8;
      g.beginPath();
      const offset = this.span - points.length;
      let drawing = false;
      points.forEach((v, i) => {
        if (v === null) {
          drawing = false;
          return;
        }
        drawing ? g.lineTo(x(i + offset), box.y(v)) : g.moveTo(x(i + offset), box.y(v));
        drawing = true;
      });
      g.stroke();
      legend(g, box, k, name, color);
    });
  }
}

/**
 * @typedef {{ name: string, start: number, values: number[] }} Line
 * @typedef {{ name: string, start: number, lower: number[], upper: number[] }} Band
 */

// A fixed chart over x = 0 … n-1: `lines` ({name, start, values}) drawn over shaded `bands`
// ({name, start, lower, upper}), widest band first. What it plotted, as [x, y] pairs per name, is on
// `plotted` and in the canvas's `data-plotted` (JSON), so a reader (or a test) sees the exact numbers.
export class BandChart {
  /**
   * @param {string} title
   * @param {string} unit
   */
  constructor(title, unit) {
    this.title = title;
    this.unit = unit;
    /** @type {Line[]} */
    this.lines = [];
    /** @type {Band[]} */
    this.bands = [];
    /** @type {Record<string, [number, number][] | { lower: [number, number][], upper: [number, number][] }>} */
    this.plotted = {};
    this.canvas = canvasFor(title);
  }

  /**
   * @param {Line[]} lines
   * @param {Band[]} [bands]
   */
  set(lines, bands = []) {
    this.lines = lines;
    this.bands = bands;
    /**
     * @param {number} start
     * @param {number[]} values
     * @returns {[number, number][]}
     */
    const at = (start, values) => values.map((v, i) => [start + i, v]);
    this.plotted = {};
    for (const b of bands) this.plotted[b.name] = { lower: at(b.start, b.lower), upper: at(b.start, b.upper) };
    for (const l of lines) this.plotted[l.name] = at(l.start, l.values);
    this.canvas.dataset.plotted = JSON.stringify(this.plotted);
    this.draw();
  }

  draw() {
    const { g, width, height } = context(this.canvas);
    const all = [...this.lines.flatMap((l) => l.values), ...this.bands.flatMap((b) => [...b.lower, ...b.upper])].filter(Number.isFinite);
    const n = Math.max(1, ...this.lines.map((l) => l.start + l.values.length), ...this.bands.map((b) => b.start + b.lower.length));
    const [lo, hi] = all.length ? [Math.min(...all), Math.max(...all)] : [0, 1];
    const pad = (hi - lo) * 0.08 || 1;
    const names = [...this.lines.map((l) => l.name), ...this.bands.map((b) => b.name)];
    const box = frame(g, width, height, `${this.title} (${this.unit})`, names, lo - pad, hi + pad);
    /** @param {number} i */
    const x = (i) => box.left + ((width - box.left - box.right) * i) / Math.max(1, n - 1);
    /** @param {number} k */
    const bandColor = (k) => `rgba(37, 99, 235, ${0.12 + 0.1 * k})`;
    [...this.bands].reverse().forEach((b, r) => {
      const k = this.bands.length - 1 - r;
      g.fillStyle = bandColor(k);
      g.beginPath();
      b.upper.forEach((v, i) => (i ? g.lineTo(x(b.start + i), box.y(v)) : g.moveTo(x(b.start + i), box.y(v))));
      for (let i = b.lower.length - 1; i >= 0; i--) g.lineTo(x(b.start + i), box.y(b.lower[i]));
      g.closePath();
      g.fill();
      legend(g, box, this.lines.length + k, b.name, bandColor(k));
    });
    this.lines.forEach((l, k) => {
      const color = COLORS[k % COLORS.length];
      g.strokeStyle = color;
      g.lineWidth = 1.8;
      g.beginPath();
      l.values.forEach((v, i) => (i ? g.lineTo(x(l.start + i), box.y(v)) : g.moveTo(x(l.start + i), box.y(v))));
      g.stroke();
      legend(g, box, k, l.name, color);
    });
  }
}
