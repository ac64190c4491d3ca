// A live line chart drawn on <canvas>: a few named series over the last `span` samples.

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export class LineChart {
  constructor(title, unit, span = 90) {
    this.title = title;
    this.unit = unit;
    this.span = span;
    this.series = new Map(); // name → [value | null]
    this.canvas = document.createElement("canvas");
    this.canvas.className = "chart";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", title);
  }

  // One sample per series; a series missing from `values` gets a gap.
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

  length() {
    const first = this.series.values().next().value;
    return first ? first.length : 0;
  }

  latest(name) {
    const points = this.series.get(name) || [];
    return points.length ? points[points.length - 1] : null;
  }

  draw() {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = c.clientWidth || 480;
    const height = c.clientHeight || 180;
    c.width = width * ratio;
    c.height = height * ratio;
    const g = c.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    g.font = "11px system-ui, sans-serif";
    const title = `${this.title} (${this.unit})`;
    // the legend after the title, wrapped onto more lines when the series do not fit
    const names = [...this.series.keys()];
    const places = [];
    let lx = 48 + g.measureText(title).width + 16, ly = 13;
    for (const name of names) {
      const w = g.measureText(name).width + 26;
      if (lx + w > width - 8 && lx > 48) {
        lx = 48;
        ly += 13;
      }
      places.push([lx, ly]);
      lx += w;
    }
    const left = 48, right = 8, top = ly + 9, bottom = 18;
    const values = [...this.series.values()].flat().filter((v) => v !== null);
    const max = Math.max(...values, 0) > 0 ? Math.max(...values) * 1.15 : 1;
    g.fillStyle = "#111827";
    g.fillText(title, left, 13);
    g.strokeStyle = "#e5e7eb";
    g.fillStyle = "#6b7280";
    for (let i = 0; i <= 4; i++) {
      const y = top + ((height - top - bottom) * i) / 4;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(width - right, y);
      g.stroke();
      const label = max * (1 - i / 4);
      g.fillText(label >= 100 ? label.toFixed(0) : String(Number(label.toPrecision(2))), 4, y + 4);
    }
    const x = (i) => left + ((width - left - right) * i) / Math.max(1, this.span - 1);
    const y = (v) => top + (height - top - bottom) * (1 - v / max);
    names.forEach((name, k) => {
      const points = this.series.get(name);
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
        drawing ? g.lineTo(x(i + offset), y(v)) : g.moveTo(x(i + offset), y(v));
        drawing = true;
      });
      g.stroke();
      const [px, py] = places[k];
      g.fillStyle = color;
      g.fillRect(px, py - 8, 10, 8);
      g.fillStyle = "#374151";
      g.fillText(name, px + 13, py);
    });
  }
}
