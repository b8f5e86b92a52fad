"use strict";
// A small drawing layer: DOM and SVG elements, linear scales with ticks, a chart frame with
// axes, lines, bands, dots with a hover tooltip, and a decision surface on a canvas.

const Draw = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg"; // a namespace name, not a resource
  // The report's colours (bench/colors.py), set from the data document by `setColours`:
  // classes (class 0 blue, class 1 orange, ...), the two-class scale, the shade of a predicted
  // class, the regression value scale (low blue to high red) and one per activation level.
  let COLOURS = {
    classes: ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9"],
    twoClass: ["#0173b2", "#ffffff", "#de8f05"],
    shade: [0.2, 0.8],
    values: ["#3b4cc0", "#dddcdc", "#b40426"],
    activations: [],
  };
  const setColours = (colours) => { COLOURS = { ...COLOURS, ...colours }; };
  const classColour = (k) => COLOURS.classes[k % COLOURS.classes.length];
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

  const rgbOf = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

  // "#rrggbb" mixed with white: t = 0 is white, t = 1 the colour; as [r, g, b].
  function tint(hex, t) {
    return rgbOf(hex).map((v) => Math.round(255 + (v - 255) * t));
  }

  // t in [0, 1] on a scale of evenly spaced colour stops, linear in RGB between them.
  function ramp(stops, t) {
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const [a, b] = [rgbOf(stops[i]), rgbOf(stops[i + 1])];
    return a.map((v, c) => Math.round(v + (b[c] - v) * (x - i)));
  }

  // The 50% contour of a two-class surface (as the report draws it): where P(class 1) crosses
  // 0.5 between neighbouring grid points, a segment through the interpolated crossings.
  function contour(ctx, bytes, res, px, py) {
    const at = (ix, iy) => bytes[iy * res + ix] / 255 - 0.5;
    ctx.beginPath();
    for (let iy = 0; iy < res - 1; iy++) {
      for (let ix = 0; ix < res - 1; ix++) {
        const corners = [[ix, iy], [ix + 1, iy], [ix + 1, iy + 1], [ix, iy + 1]];
        const crossings = [];
        for (let e = 0; e < 4; e++) {
          const [p, q] = [corners[e], corners[(e + 1) % 4]];
          const [u, v] = [at(...p), at(...q)];
          if ((u < 0) === (v < 0)) continue;
          const t = u / (u - v);
          crossings.push([p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t]);
        }
        for (let c = 0; c + 1 < crossings.length; c += 2) {
          ctx.moveTo(px(crossings[c][0]), py(crossings[c][1]));
          ctx.lineTo(px(crossings[c + 1][0]), py(crossings[c + 1][1]));
        }
      }
    }
    ctx.strokeStyle = "#262626";
    ctx.lineWidth = Math.max(1, ctx.canvas.width / 300);
    ctx.stroke();
  }

  // A decision surface onto `canvas`: bytes = prob (0..255) then pred, each res x res,
  // row-major [iy, ix] with iy = 0 at y_min (drawn at the bottom). As the report draws it:
  // two classes, P(class 1) from class 0's colour (blue) at 0 through white to class 1's
  // (orange) at 1, with the 50% contour; more, the predicted class's colour, paler where the
  // model is less sure. Test points on top, coloured by their true class. A regression surface
  // (s.range: [lo, hi]) is the predicted value on the report's value scale (low blue to high
  // red), lo to hi, and its test points are coloured by their targets on it (a 'line' plane's
  // rows are all alike, so it shows as vertical bands).
  function surface(canvas, s, bytes, classes, test) {
    const res = s.res;
    const image = new ImageData(res, res);
    const k = Math.max(classes || 2, 2);
    const values = Array.isArray(s.range);
    const [pale, sure] = COLOURS.shade;
    for (let row = 0; row < res; row++) {
      const iy = res - 1 - row;
      for (let ix = 0; ix < res; ix++) {
        const i = iy * res + ix;
        const p = bytes[i] / 255;
        let rgb;
        if (values) rgb = ramp(COLOURS.values, p);
        else if (k === 2) rgb = ramp(COLOURS.twoClass, p);
        else rgb = tint(classColour(bytes[res * res + i]), pale + (sure - pale) * Math.max(0, Math.min(1, (p - 1 / k) / (1 - 1 / k))));
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
    // grid point (ix, iy) sits at the centre of its image pixel
    if (!values && k === 2) contour(ctx, bytes, res, (ix) => ((ix + 0.5) / res) * w, (iy) => h - ((iy + 0.5) / res) * h);
    const r = Math.max(2, w / 110);
    const [lo, hi] = values ? s.range : [0, 1];
    for (let i = 0; i < test.x.length; i++) {
      if (test.x[i] === null || test.y[i] === null) continue;
      ctx.beginPath();
      ctx.arc(px(test.x[i]), py(test.y[i]), r, 0, 2 * Math.PI);
      if (values && test.target) ctx.fillStyle = `rgb(${ramp(COLOURS.values, (test.target[i] - lo) / (hi - lo || 1)).join(",")})`;
      else ctx.fillStyle = classColour(test.label[i]);
      ctx.fill();
      ctx.lineWidth = Math.max(1, w / 480);
      ctx.strokeStyle = "#1a1a1a";
      ctx.stroke();
    }
  }

  const seriesColour = (i) => SERIES_COLOURS[i % SERIES_COLOURS.length];
  // An activation level's colour, as the report's figures give it (affine ones grey).
  const activationColour = (i) => (COLOURS.activations.length ? COLOURS.activations[i % COLOURS.activations.length] : seriesColour(i));

  return { html, svg, scale, chart, line, band, dot, hover, surface, seriesColour, activationColour, setColours, classColour };
})();
