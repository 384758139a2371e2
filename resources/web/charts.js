// Canvas drawing: scrolling waveforms (pleth, phonocardiogram) and sparklines.

function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  return { w, h, dpr };
}

/**
 * A scrolling trace: samples are pushed as they arrive; the newest is at the
 * right edge, `seconds` of signal are shown.
 * mode "line": a trace (pleth); mode "envelope": a filled symmetric envelope (phono).
 */
export class ScrollingWave {
  constructor(canvas, { seconds = 6, color = "#0b5f8a", mode = "line", grid = true, autoscale = true } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.seconds = seconds;
    this.color = color;
    this.mode = mode;
    this.grid = grid;
    this.autoscale = autoscale;
    this.rate = 100;
    this.buf = new Float32Array(0);
    this.count = 0;      // samples written since start
    this.lastPush = 0;
    this.dirty = true;
    this.setRate(100);
  }

  setRate(rate) {
    rate = Number(rate) || 100;
    if (rate === this.rate && this.buf.length) return;
    this.rate = rate;
    this.buf = new Float32Array(Math.max(16, Math.round(rate * this.seconds)));
    this.count = 0;
  }

  push(samples, rate) {
    if (rate) this.setRate(rate);
    const n = this.buf.length;
    for (const s of samples) {
      const v = Number(s);
      this.buf[this.count % n] = Number.isFinite(v) ? v : NaN;
      this.count++;
    }
    this.lastPush = performance.now();
    this.dirty = true;
  }

  clear() { this.buf.fill(0); this.count = 0; this.dirty = true; }

  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    const { w, h, dpr } = fitCanvas(this.canvas);
    const ctx = this.ctx;
    ctx.clearRect(0, 0, w, h);
    if (this.grid) {
      ctx.strokeStyle = "#edf1f4";
      ctx.lineWidth = 1;
      ctx.beginPath();
      const step = w / this.seconds;          // one line per second
      for (let x = w - step; x > 0; x -= step) { ctx.moveTo(Math.round(x) + .5, 0); ctx.lineTo(Math.round(x) + .5, h); }
      ctx.moveTo(0, Math.round(h / 2) + .5); ctx.lineTo(w, Math.round(h / 2) + .5);
      ctx.stroke();
    }
    const n = this.buf.length;
    const have = Math.min(this.count, n);
    if (have < 2) return;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < have; i++) {
      const v = this.buf[(this.count - have + i) % n];
      if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (!Number.isFinite(lo)) return;
    const pad = 6 * dpr;
    ctx.lineWidth = 1.8 * dpr;
    ctx.strokeStyle = this.color;
    ctx.lineJoin = "round";
    const xOf = (i) => w - (have - 1 - i) * (w / (n - 1));
    if (this.mode === "envelope") {
      const peak = Math.max(Math.abs(lo), Math.abs(hi), 1e-6);
      const mid = h / 2;
      const half = mid - pad;
      ctx.fillStyle = this.color + "33";
      ctx.beginPath();
      for (let i = 0; i < have; i++) {
        const v = Math.abs(this.buf[(this.count - have + i) % n]) || 0;
        const x = xOf(i), y = mid - (v / peak) * half;
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      }
      for (let i = have - 1; i >= 0; i--) {
        const v = Math.abs(this.buf[(this.count - have + i) % n]) || 0;
        ctx.lineTo(xOf(i), mid + (v / peak) * half);
      }
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
      return;
    }
    const span = hi - lo || 1;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < have; i++) {
      const v = this.buf[(this.count - have + i) % n];
      if (!Number.isFinite(v)) { pen = false; continue; }
      const x = xOf(i), y = h - pad - ((v - lo) / span) * (h - 2 * pad);
      pen ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      pen = true;
    }
    ctx.stroke();
  }
}

/** A small trend chart: points [{t (ms), v}] sorted by time. */
export function drawSparkline(canvas, points, { color = "#0b5f8a", band = null } = {}) {
  const { w, h, dpr } = fitCanvas(canvas);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const pts = points.filter((p) => Number.isFinite(p.v));
  if (!pts.length) return;
  let lo = Math.min(...pts.map((p) => p.v)), hi = Math.max(...pts.map((p) => p.v));
  if (band) { lo = Math.min(lo, band[0]); hi = Math.max(hi, band[1]); }
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const t0 = pts[0].t, t1 = pts[pts.length - 1].t;
  const pad = 4 * dpr;
  const x = (t) => (t1 === t0 ? w / 2 : pad + ((t - t0) / (t1 - t0)) * (w - 2 * pad));
  const y = (v) => h - pad - ((v - lo) / (hi - lo)) * (h - 2 * pad);
  if (band) {
    ctx.fillStyle = "#17794a14";
    ctx.fillRect(0, y(band[1]), w, y(band[0]) - y(band[1]));
  }
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.6 * dpr;
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
  ctx.stroke();
  ctx.fillStyle = color;
  for (const p of pts) { ctx.beginPath(); ctx.arc(x(p.t), y(p.v), 1.8 * dpr, 0, Math.PI * 2); ctx.fill(); }
  const last = pts[pts.length - 1];
  ctx.beginPath(); ctx.arc(x(last.t), y(last.v), 3.2 * dpr, 0, Math.PI * 2); ctx.fill();
}
