"use strict";
// A small drawing layer: DOM and SVG elements, linear scales with ticks, a chart frame with
// axes, lines, bands, dots with a hover tooltip, and a decision surface on a canvas.

const Draw = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, not a resource
  // Classes as TensorFlow Playground colours them (orange 0, blue 1), then more.
  const CLASS_COLOURS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const SERIES_COLOURS = ["#555555", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a"];

  // An HTML element with attributes (and text), appended to parent if given.
  function html(tag, attrs = {}, parent = null, text = null) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svg(tag, attrs = {}, parent = null, text = null) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // A linear map from [d0, d1] to [r0, r1]; .ticks(n) gives round values inside the domain.
  function scale(d0, d1, r0, r1) {
    const span = d1 - d0 || 1;
    const f = (v) => r0 + ((v - d0) / span) * (r1 - r0);
    f.ticks = (n = 5) => {
      const raw = Math.abs(d1 - d0) / n || 1;
      const power = 10 ** Math.floor(Math.log10(raw));
      const step = power * ([1, 2, 5, 10].find((m) => m * power >= raw) || 10);
      const out = [];
      for (let v = Math.ceil(Math.min(d0, d1) / step) * step; v <= Math.max(d0, d1) + step * 1e-9; v += step) {
        out.push(Number(v.toPrecision(12)));
      }
      return out;
    };
    return f;
  }

  // A chart frame: an <svg> of width x height with margins, axes, gridlines and labels.
  // x and y are [min, max] (numbers) or, for x, a list of category labels.
  function chart(parent, { width = 320, height = 200, margin = {}, x, y, xLabel = "", yLabel = "", yFormat = String, xFormat = String, yTicks = 4 }) {
    const m = { top: 10, right: 12, bottom: 36, left: 48, ...margin };
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "chart" }, parent);
    const categorical = Array.isArray(x) && typeof x[0] === "string";
    // Categories sit at 0, 1, 2, ... with half a step of room at each end.
    const xs = categorical ? scale(-0.5, x.length - 0.5, m.left, width - m.right) : scale(x[0], x[1], m.left, width - m.right);
    if (categorical) xs.ticks = () => x.map((_, i) => i);
    const ys = scale(y[0], y[1], height - m.bottom, m.top);
    const axes = svg("g", { class: "axes" }, root);
    for (const t of yTicks ? ys.ticks(yTicks) : []) {
      svg("line", { x1: m.left, x2: width - m.right, y1: ys(t), y2: ys(t), class: "grid" }, axes);
      svg("text", { x: m.left - 4, y: ys(t), class: "tick", "text-anchor": "end", "dominant-baseline": "middle" }, axes, yFormat(t));
    }
    for (const t of xs.ticks(5)) {
      const label = categorical ? x[t] : xFormat(t);
      svg("text", { x: xs(t), y: height - m.bottom + 13, class: "tick", "text-anchor": "middle" }, axes, label);
    }
    svg("line", { x1: m.left, x2: width - m.right, y1: height - m.bottom, y2: height - m.bottom, class: "axis" }, axes);
    svg("text", { x: (m.left + width - m.right) / 2, y: height - 4, class: "label", "text-anchor": "middle" }, axes, xLabel);
    svg("text", { x: 12, y: (m.top + height - m.bottom) / 2, class: "label", "text-anchor": "middle", transform: `rotate(-90 12 ${(m.top + height - m.bottom) / 2})` }, axes, yLabel);
    const plot = svg("g", { class: "plot" }, root);
    return { root, plot, x: xs, y: ys };
  }

  // An SVG path through [x, y] points (in pixels); a null point breaks the line.
  function pathData(points) {
    let d = "";
    let pen = "M";
    for (const p of points) {
      if (!p) { pen = "M"; continue; }
      d += `${pen}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = "L";
    }
    return d;
  }

  const line = (g, points, attrs = {}) => svg("path", { d: pathData(points), fill: "none", ...attrs }, g);

  // A filled band between upper and lower points (same x), skipping gaps.
  function band(g, upper, lower, attrs = {}) {
    const pairs = upper.map((u, i) => (u && lower[i] ? [u, lower[i]] : null)).filter(Boolean);
    if (pairs.length < 2) return null;
    const d = pathData([...pairs.map((p) => p[0]), ...pairs.map((p) => p[1]).reverse()]) + "Z";
    return svg("path", { d, ...attrs }, g);
  }

  // The one tooltip: follows the pointer over elements given a text by `hover`.
  let tip = null;
  function hover(node, text) {
    if (!tip) tip = html("div", { class: "tooltip", role: "tooltip" }, document.body);
    node.addEventListener("mouseenter", () => { tip.textContent = typeof text === "function" ? text() : text; tip.style.display = "block"; });
    node.addEventListener("mousemove", (e) => { tip.style.left = `${e.pageX + 12}px`; tip.style.top = `${e.pageY + 12}px`; });
    node.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    return node;
  }

  const dot = (g, x, y, r, attrs = {}, text = null) => {
    const node = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r, ...attrs }, g);
    if (text) hover(node, text);
    return node;
  };

  // "#rrggbb" mixed with white: t = 0 is white, t = 1 the colour; as [r, g, b].
  function tint(hex, t) {
    const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return c.map((v) => Math.round(255 + (v - 255) * t));
  }

  // t in [0, 1] from orange (0) through white (0.5) to blue (1), at strength `strength`.
  const diverging = (t, strength) => (t < 0.5 ? tint(CLASS_COLOURS[0], (0.5 - t) * strength) : tint(CLASS_COLOURS[1], (t - 0.5) * strength));

  // A decision surface onto `canvas`: bytes = prob (0..255) then pred, each res x res,
  // row-major [iy, ix] with iy = 0 at y_min (drawn at the bottom). Two classes: P(class 1)
  // runs from orange through white to blue; more: the predicted class's colour, paler where
  // the model is less sure. Test points on top, coloured by their true class. A regression
  // surface (s.range: [lo, hi]) is the predicted value on the same orange-to-blue scale, lo
  // to hi, and its test points are coloured by their targets on it (a 'line' plane's rows are
  // all alike, so it shows as vertical bands).
  function surface(canvas, s, bytes, classes, test) {
    const res = s.res;
    const image = new ImageData(res, res);
    const k = Math.max(classes || 2, 2);
    const values = Array.isArray(s.range);
    for (let row = 0; row < res; row++) {
      const iy = res - 1 - row;
      for (let ix = 0; ix < res; ix++) {
        const i = iy * res + ix;
        const p = bytes[i] / 255;
        let rgb;
        if (values || k === 2) rgb = diverging(p, 1.6);
        else rgb = tint(CLASS_COLOURS[bytes[res * res + i] % CLASS_COLOURS.length], Math.max(0, (p - 1 / k) / (1 - 1 / k)) * 0.8);
        image.data.set([...rgb, 255], 4 * (row * res + ix));
      }
    }
    const small = document.createElement("canvas");
    small.width = small.height = res;
    small.getContext("2d").putImageData(image, 0, 0);
    const ctx = canvas.getContext("2d");
    const [w, h] = [canvas.width, canvas.height];
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(small, 0, 0, w, h);
    const [x0, x1, y0, y1] = s.extent;
    const px = (x) => ((x - x0) / (x1 - x0 || 1)) * w;
    const py = (y) => h - ((y - y0) / (y1 - y0 || 1)) * h;
    const r = Math.max(2, w / 110);
    const [lo, hi] = values ? s.range : [0, 1];
    for (let i = 0; i < test.x.length; i++) {
      if (test.x[i] === null || test.y[i] === null) continue;
      ctx.beginPath();
      ctx.arc(px(test.x[i]), py(test.y[i]), r, 0, 2 * Math.PI);
      if (values && test.target) {
        const t = Math.min(1, Math.max(0, (test.target[i] - lo) / (hi - lo || 1)));
        ctx.fillStyle = `rgb(${diverging(t, 2).join(",")})`;
      } else ctx.fillStyle = CLASS_COLOURS[test.label[i] % CLASS_COLOURS.length];
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = values ? "#333" : "#fff";
      ctx.stroke();
    }
  }

  const seriesColour = (i) => SERIES_COLOURS[i % SERIES_COLOURS.length];

  return { html, svg, scale, chart, line, band, dot, hover, surface, seriesColour, CLASS_COLOURS };
})();
