"use strict";
// One cell's panel: its decision surface with the test points; test accuracy over seeds
// beside the affine control, chance and the best in the grid (in the study shown, when the
// grid has several: State.control and State.best); learning curves; measures.
// A regression cell (cell.score "test_r2") shows its test R^2 where accuracy is shown, beside
// the affine control, the best affine fit and the best possible R^2 (cell.yard).

const Panels = (() => {
  let D = null;
  const surfaceCache = new Map(); // surface index -> Promise<Uint8Array> (prob, then pred)
  const curveCache = new Map(); // cell index -> Promise<values[metric][stat][epoch] | null>
  // Mechanism measures first: they say why an activation helps, not only that it does.
  const MEASURE_ORDER = ["test_acc", "test_r2", "linear_fit_r2", "linear_regions", "dead_unit_frac", "grad_norm_init_first"];
  const MECHANISM = new Set(MEASURE_ORDER.slice(2));
  const isR2 = (cell) => cell.score === "test_r2";
  const within = () => (State.several() ? "in this study" : "in the grid");

  function init(data) {
    D = data;
  }

  const replicateLabel = (r) => D.seedAxes.map((axis, i) => `${axis} ${D.replicates[r][i]}`).join(", ");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function cached(cache, i, make) {
    if (!cache.has(i)) cache.set(i, make());
    return cache.get(i);
  }

  // A cell's curves as values[metric][stat][epoch] (stats: mean, min, max; null: missing).
  // A regression cell's record names its curves (losses, then R^2) and stores R^2 from an offset.
  async function curveValues(i) {
    const record = D.curves[i];
    if (!record) return null;
    const q = Stats.uint16(await Stats.inflate(record.data)); // (metrics, 3, epochs)
    const n = D.epochs[record.epochs].length;
    return curveNames(i).map((_, m) =>
      [0, 1, 2].map((s) =>
        Array.from({ length: n }, (_, e) => {
          const v = q[(m * 3 + s) * n + e];
          const offset = record.offset ? record.offset[m] : 0;
          return v === Stats.MISSING_U16 ? null : offset + (v / (Stats.MISSING_U16 - 1)) * record.scale[m];
        }),
      ),
    );
  }

  const curveNames = (i) => (D.curves[i] && D.curves[i].names) || D.curveMetrics;

  // The panel of the cell with key `key`, for role "a" or "b"; resolves once fully drawn.
  function cell(parent, key, role, state, onCurve) {
    const i = State.cellOf(key);
    const c = D.cells[i];
    const panel = Draw.html("section", { class: "panel", id: `panel-${role}`, "data-cell": i }, parent);
    Draw.html("h2", {}, panel, `${role.toUpperCase()}: ${State.describe(key)}`);
    const top = Draw.html("div", { class: "panel-top" }, panel);
    const surface = surfaceFigure(top, c, i, role, state);
    accuracy(top, c, i, role);
    const curves = curvesFigure(panel, i, role, state, onCurve);
    measures(panel, c, role);
    return Promise.all([surface, curves]);
  }

  // ------------------------------------------------------------------ decision surface

  async function surfaceFigure(parent, c, i, role, state) {
    const fig = Draw.html("figure", { class: "surface", id: `${role}-surface-figure` }, parent);
    if (c.surface === null || c.surface === undefined) {
      missingSurface(fig, c, i, role, state);
      return;
    }
    const s = D.surfaces[c.surface];
    const size = 240;
    const ratio = window.devicePixelRatio || 1;
    const canvas = Draw.html("canvas", { id: `${role}-surface`, "data-surface": c.surface, width: Math.round(size * ratio), height: Math.round(size * ratio), style: `width:${size}px;height:${size}px` }, fig);
    const caption = Draw.html("figcaption", {}, fig, surfaceCaption(s, c, i));
    try {
      const bytes = await cached(surfaceCache, c.surface, () => Stats.inflate(s.data));
      Draw.surface(canvas, s, bytes, c.classes, D.tests[s.test]);
    } catch (error) {
      caption.textContent = `This browser could not unpack the surface (${error.message}).`;
    }
  }

  // No surface of this cell's function was stored: say so, never show another cell's as its
  // own; where one was stored for its dataset, noise, activation, depth and width (the runner's
  // key), link to the cell it belongs to.
  function missingSurface(fig, c, i, role, state) {
    const key = (D.surfaceKey || ["dataset", "noise", "activation", "depth", "width"]).join(", ");
    const box = Draw.html("div", { class: "no-surface", id: `${role}-no-surface` }, fig);
    Draw.html("p", {}, box, "No decision surface was stored for this cell.");
    const why = Draw.html("p", { class: "note" }, box, `The runner stores one surface per setting of ${key} (the first run in grid order), so a cell that differs from that run in another axis has none.`);
    const near = c.near !== null && c.near !== undefined ? D.surfaces[c.near] : null;
    if (!near || near.cell === null || near.cell === i) return;
    const other = D.cells[near.cell].k;
    const differs = State.differences(c.k, other);
    if (!State.inBlock(near.cell)) {
      why.append(` The one stored for these settings is a cell of another study (${differs.join(", ")}).`);
      return;
    }
    why.append(` The one stored for these settings is another cell's (${differs.join(", ")}): `);
    const link = Draw.html("a", { href: `#${State.format({ ...state, [role]: other.slice() })}`, class: "near-surface" }, why, `show ${State.describe(other)}`);
    link.title = "makes that cell this panel's, with its own numbers";
    why.append(".");
  }

  function surfaceCaption(s, c, i) {
    const planes = { pca: "the first two principal components of the training inputs, centred at their mean", line: "its one feature (across; the vertical axis means nothing)" };
    const plane = planes[s.plane] || "the input plane";
    let from = "one of its runs";
    // its own run: of this cell, or of a cell with the same key (another study's seeds of it)
    const own = s.cell === i || (s.cell !== null && D.cells[s.cell].k.join() === c.k.join());
    if (s.rep !== null && own) from = `its run with ${replicateLabel(s.rep)}`;
    else if (s.cell !== null && !own) {
      // a cell that differs only in what is recorded (eval_every, target_acc): the same training
      from = `the run with ${replicateLabel(s.rep)} of ${State.describe(D.cells[s.cell].k)}, which trains exactly as this cell does (it differs only in ${State.differences(c.k, D.cells[s.cell].k).join(", ")})`;
    }
    if (s.diverged) from += "; that run diverged and is left out of the numbers";
    if (s.range) {
      const [lo, hi] = s.range.map(Stats.num);
      return `Fitted function on ${plane}, from ${from}; colour: the predicted value, blue ${lo} to red ${hi} (as in the report); dots: test points coloured by their targets on the same scale.`;
    }
    const colour = c.classes > 2 ? "colour: predicted class, paler where the model is less sure" : "colour: P(class 1), blue 0 (class 0) through white to orange 1 (class 1), as in the report; line: 50%";
    return `Decision surface on ${plane}, from ${from}; ${colour}; dots: test points by true class.`;
  }

  // ------------------------------------------------------------------ accuracy

  function accuracy(parent, c, i, role) {
    const box = Draw.html("div", { class: "accuracy" }, parent);
    const [mean, low, high] = c.ci;
    const fmt = (x) => Stats.score(c, x);
    const head = Draw.html("p", { class: "headline" }, box, isR2(c) ? "Test R² " : "Test accuracy ");
    Draw.html("b", { id: `${role}-acc`, "data-mean": mean, "data-low": low, "data-high": high }, head, fmt(mean));
    head.append(` [${fmt(low)}, ${fmt(high)}] over ${plural(c.acc.length, "replicate")}`);
    Draw.html("p", { class: "note" }, box, "Mean over replicates (a data sample and a seed each) with its 95% bootstrap interval; each dot is one replicate.");
    if (c.failed) Draw.html("p", { class: "warn" }, box, `${c.failed} of ${c.n} runs failed and are left out.`);
    if (c.diverged) Draw.html("p", { class: "warn", id: `${role}-diverged` }, box, `${c.diverged} of ${c.n} runs diverged (the training loss stopped being finite or grew 100-fold) and are left out, as in the report.`);
    const k = State.control(i);
    const control = k !== null && k !== i ? D.cells[k] : null;
    strip(box, c, i, control);
    yardsticks(box, c, i, control);
  }

  const activationOf = (cell) => {
    const j = State.axisIndex("activation");
    return j >= 0 ? D.axes[j].levels[cell.k[j]] : "";
  };

  // Seeds as dots, the mean as a tick, the interval as a bar; one row per cell shown, with
  // chance and the best in the grid (or study) as vertical lines.
  function strip(parent, c, i, control) {
    const rows = [{ label: "this cell", cell: c }];
    if (control) rows.push({ label: `control (${activationOf(control)})`, cell: control });
    const r2 = isR2(c);
    const fmt = (x) => Stats.score(c, x);
    // the floor: chance for accuracy, the best affine fit for R^2
    const floor = r2 ? (c.yard ? c.yard[1] : null) : c.classes ? 1 / c.classes : null;
    const bestCell = State.best(i);
    const best = bestCell !== null ? D.cells[bestCell].ci[0] : null;
    const values = rows.flatMap((r) => r.cell.acc).concat(floor ?? [], best ?? []);
    const rounded = Math.floor(Math.min(...values) * 10) / 10;
    const lowest = r2 ? Math.max(-1, Math.min(0, rounded)) : Math.min(0.5, rounded); // R^2 below -1 sits at the edge
    const at = (v) => frame.x(Math.max(lowest, v));
    const height = 40 + 30 * rows.length;
    const frame = Draw.chart(parent, { width: 330, height, margin: { left: 92, top: 14, bottom: 30 }, x: [lowest, 1], y: [0, rows.length], xLabel: r2 ? "test R²" : "test accuracy", xFormat: r2 ? Stats.num : (t) => Stats.pct(t, 0), yTicks: 0 });
    const mark = (value, cls, label, text) => {
      if (value === null || value === undefined) return;
      const x = at(value);
      Draw.hover(Draw.svg("line", { x1: x, x2: x, y1: frame.y(0), y2: frame.y(rows.length), class: cls }, frame.plot), text);
      Draw.svg("text", { x, y: 10, class: `tick ${cls}`, "text-anchor": "middle" }, frame.plot, label);
    };
    if (r2) mark(floor, "chance", "line", `best affine fit (least squares on the training set): R² ${fmt(floor)}`);
    else mark(floor, "chance", "chance", `chance: ${Stats.pct(floor)}`);
    mark(best, "best", "best", `best mean ${within()} on this data: ${fmt(best)}`);
    rows.forEach((row, r) => {
      const y = frame.y(rows.length - r - 0.5);
      Draw.svg("text", { x: frame.x(lowest) - 6, y, class: "tick", "text-anchor": "end", "dominant-baseline": "middle" }, frame.plot, row.label);
      const [m, lo, hi] = row.cell.ci;
      if (lo !== null && hi !== null) Draw.svg("line", { x1: at(lo), x2: at(hi), y1: y, y2: y, class: "interval" }, frame.plot);
      row.cell.acc.forEach((a, s) => {
        const jitter = ((s % 5) - 2) * 2.5;
        Draw.dot(frame.plot, at(a), y + jitter, 3, { class: "seed" }, `${replicateLabel(row.cell.s[s])}: ${fmt(a)}`);
      });
      if (m !== null) Draw.hover(Draw.svg("line", { x1: at(m), x2: at(m), y1: y - 10, y2: y + 10, class: "mean" }, frame.plot), `mean ${fmt(m)} [${fmt(lo)}, ${fmt(hi)}]`);
    });
  }

  function yardsticks(parent, c, i, control) {
    const list = Draw.html("ul", { class: "yardsticks" }, parent);
    const item = (text, id) => Draw.html("li", { id }, list, text);
    const fmt = (x) => Stats.score(c, x);
    const interval = (x) => `${fmt(x.ci[0])} [${fmt(x.ci[1])}, ${fmt(x.ci[2])}]`;
    const score = isR2(c) ? "R² " : "";
    if (control) item(`Affine control (${activationOf(control)}, otherwise the same): ${score}${interval(control)}.`, "control-score");
    else if (c.affine) {
      const j = State.axisIndex("features");
      const features = j >= 0 ? D.axes[j].levels[c.k[j]] : D.fixed.features || "raw";
      const line = c.classes === 2 ? ", so its decision boundary is a straight line" : "";
      const of = features === "raw" ? `of the input coordinates${line}` : `of its ${features} features, not of the coordinates (in the plane its boundary may curve)`;
      item(`This cell is the affine control: the network is one affine map ${of}.`);
    }
    else item("No affine control with these settings in the grid.");
    const b = State.best(i);
    if (b !== null) {
      const best = D.cells[b];
      const which = b === i ? "this cell" : State.describe(best.k);
      const where = State.several() ? "this study" : "this grid";
      item(`Best in ${where} on this data: ${score}${fmt(best.ci[0])}, ${which}.`);
    }
    if (isR2(c)) {
      const [possible, line] = c.yard || [null, null];
      if (possible !== null) item(`Best possible: R² ${fmt(possible)}, the noise-free function on the test points (as in the report).`, "best-possible");
      else item("Best possible: unknown for this data (a CSV file).", "best-possible");
      if (line !== null) item(`Best affine fit (least squares on the training set), the most a network without an activation reaches: R² ${fmt(line)}.`, "best-line");
      return;
    }
    if (c.ceiling !== null && c.ceiling !== undefined) {
      item(`Best possible (Bayes accuracy of the data's generator, as in the report): ${Stats.pct(c.ceiling)}.`);
    } else item("Best possible: unknown for this data (a CSV file).");
    if (c.classes) item(`Chance: ${Stats.pct(1 / c.classes)} (${c.classes} classes).`);
  }

  // ------------------------------------------------------------------ learning curves

  async function curvesFigure(parent, i, role, state, onCurve) {
    const fig = Draw.html("figure", { class: "curves" }, parent);
    const bar = Draw.html("div", { class: "toggle" }, fig, "Learning curves: ");
    const r2 = isR2(D.cells[i]);
    for (const [kind, label] of [["acc", r2 ? "R²" : "accuracy"], ["loss", "loss"]]) {
      const button = Draw.html("button", { type: "button", "aria-pressed": String(state.curve === kind), "data-curve": kind }, bar, label);
      button.addEventListener("click", () => onCurve(kind));
    }
    const values = await cached(curveCache, i, () => curveValues(i));
    if (!values) {
      Draw.html("figcaption", {}, fig, "No learning curves are stored for this cell.");
      return;
    }
    const epochs = D.epochs[D.curves[i].epochs];
    const scores = r2 ? ["train_r2", "test_r2"] : ["train_acc", "test_acc"];
    const names = state.curve === "acc" ? scores : ["train_loss", "test_loss"];
    const series = names.map((name) => ({ name, v: values[curveNames(i).indexOf(name)] }));
    const known = (stat) => series.flatMap((s) => s.v[stat].filter((x) => x !== null));
    const top = state.curve === "acc" ? 1 : Math.max(...known(2), 1e-9);
    // R^2 starts far below 0 at initialisation: the axis stops at -1, lower values sit on it
    const bottom = state.curve === "acc" && r2 ? Math.max(-1, Math.min(0, ...known(1))) : 0;
    const yLabel = state.curve === "acc" ? (r2 ? "R²" : "accuracy") : "loss";
    const frame = Draw.chart(fig, { width: 420, height: 190, x: [0, epochs[epochs.length - 1] || 1], y: [bottom, top], xLabel: "epoch", yLabel, yFormat: state.curve === "acc" && !r2 ? (t) => Stats.pct(t, 0) : Stats.num });
    for (const { name, v } of series) {
      const at = (stat) => epochs.map((e, k) => (v[stat][k] === null ? null : [frame.x(e), frame.y(Math.max(bottom, v[stat][k]))]));
      const cls = name.startsWith("test") ? "test" : "train";
      Draw.band(frame.plot, at(2), at(1), { class: `band ${cls}` });
      Draw.line(frame.plot, at(0), { class: `curve ${cls}` });
      epochs.forEach((e, k) => {
        if (v[0][k] === null) return;
        const text = `epoch ${e}, ${name.replace("_", " ")}: mean ${Stats.measure(name, v[0][k])} (from ${Stats.measure(name, v[1][k])} to ${Stats.measure(name, v[2][k])} over replicates)`;
        Draw.dot(frame.plot, frame.x(e), frame.y(v[0][k]), 3, { class: "hit" }, text);
      });
    }
    const n = D.cells[i].acc.length;
    Draw.html("figcaption", {}, fig, `Solid: test, dashed: train. Lines: mean over ${plural(n, "replicate")}; bands: lowest to highest replicate.`);
  }

  // ------------------------------------------------------------------ measures

  function measures(parent, c, role) {
    const table = Draw.html("table", { class: "measures", id: `${role}-measures` }, parent);
    const head = Draw.html("tr", {}, Draw.html("thead", {}, table));
    for (const h of ["measure", "mean", "over replicates"]) Draw.html("th", {}, head, h);
    const body = Draw.html("tbody", {}, table);
    const order = [...MEASURE_ORDER, ...D.measures.map((m) => m.name).filter((m) => !MEASURE_ORDER.includes(m))];
    for (const name of order) {
      const m = D.measures.findIndex((x) => x.name === name);
      if (m < 0) continue;
      const [mean, low, high] = c.m[m];
      const row = Draw.html("tr", { class: MECHANISM.has(name) ? "mechanism" : null, "data-measure": name }, body);
      Draw.html("td", { title: D.measures[m].meaning }, row, name);
      Draw.html("td", {}, row, Stats.measure(name, mean));
      const scored = name === (c.score || "test_acc");
      const spread = scored ? `95% CI ${Stats.score(c, c.ci[1])} to ${Stats.score(c, c.ci[2])}` : `${Stats.measure(name, low)} to ${Stats.measure(name, high)}`;
      Draw.html("td", {}, row, mean === null ? "not measured" : spread);
    }
  }

  return { init, cell, activationOf };
})();
