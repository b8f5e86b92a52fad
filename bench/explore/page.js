"use strict";
// The explore page: the study (when the grid has several blocks), axis controls for cell A
// (and B when comparing), their panels, the difference between them, and an overview of one
// measure along one axis. The URL fragment is the state: every control writes it, and the page
// draws what the fragment says.

(() => {
  const D = JSON.parse(document.getElementById("explore-data").textContent);
  const app = document.getElementById("app");
  State.init(D);
  Panels.init(D);
  if (D.colours) Draw.setColours(D.colours);
  let drawn = null; // the fragment last drawn
  let note = ""; // what the last choice changed besides itself (a snap), shown once

  // ------------------------------------------------------------------ state <-> fragment

  function go(state, message = "") {
    note = message;
    const fragment = State.format(state);
    if (fragment === location.hash.slice(1)) draw(state);
    else location.hash = fragment; // hashchange draws it
  }

  function fromHash() {
    const state = State.parse(location.hash);
    const fragment = State.format(state);
    if (fragment !== location.hash.slice(1)) location.replace(`#${fragment}`); // normalised
    if (fragment !== drawn) draw(state);
  }

  function draw(state) {
    State.setBlock(state.block);
    drawn = State.format(state);
    document.body.removeAttribute("data-ready");
    app.replaceChildren();
    // Controls in a column on the left, the panels beside them: the two decision surfaces
    // compared are on the first screen, whatever the number of axes.
    const layout = Draw.html("div", { class: "layout" }, app);
    const side = Draw.html("div", { class: "sidebar" }, layout);
    const content = Draw.html("div", { class: "content" }, layout);
    studies(side, state);
    controls(side, state, "a");
    compareBar(side, state);
    if (note) Draw.html("p", { class: "warn", id: "snap-note" }, content, note);
    note = "";
    if (state.b) difference(content, state);
    const row = Draw.html("div", { class: "panels" }, content);
    const onCurve = (kind) => go({ ...state, curve: kind });
    const panels = [Panels.cell(row, state.a, "a", state, onCurve)];
    if (state.b) panels.push(Panels.cell(row, state.b, "b", state, onCurve));
    overview(content, state);
    const fragment = drawn;
    Promise.all(panels).then(() => {
      if (drawn !== fragment) return;
      document.body.dataset.ready = fragment; // for tests: everything of this state is drawn
      if (!window.exploreFirstDrawn) window.exploreFirstDrawn = performance.now();
    });
  }

  // ------------------------------------------------------------------ controls

  // The first control when the grid has several blocks: one button per study, named by its
  // question as the report titles its section; picking one opens its first view.
  function studies(parent, state) {
    if (!State.several()) return;
    const box = Draw.html("div", { class: "controls study", id: "study" }, parent);
    Draw.html("h3", {}, box, "Study");
    for (const block of D.blocks) {
      const button = Draw.html("button", { type: "button", "data-block": block.name, "aria-pressed": String(block.name === state.block), title: `block ${block.name}` }, box, block.title);
      button.addEventListener("click", () => {
        if (block.name !== state.block) go(State.parse(`block=${encodeURIComponent(block.name)}`));
      });
    }
    const b = State.block();
    const out = [b.failed ? `${b.failed} failed` : "", b.diverged ? `${b.diverged} diverged` : ""].filter(Boolean);
    const fixed = b.fixed.map((j) => `${D.axes[j].name} ${D.axes[j].levels[D.cells[b.cells[0]].k[j]]}`);
    const same = fixed.length ? ` Held at one value in this study: ${fixed.join(", ")}.` : "";
    Draw.html("p", { class: "note", id: "study-info" }, box, `This study: ${b.runs} runs in ${b.cells.length} cells${out.length ? ` (${out.join(", ")})` : ""}.${same}`);
  }

  // One row of buttons per axis that varies in the study; a level with no runs given the other
  // settings is dimmed, and picking it snaps the other axes to the nearest cell that has runs.
  function controls(parent, state, role) {
    const key = state[role];
    const box = Draw.html("div", { class: `controls controls-${role}`, "data-role": role }, parent);
    Draw.html("h3", {}, box, role === "a" ? "Cell A" : "Cell B, compared with A");
    State.axes().forEach((j) => {
      const axis = D.axes[j];
      const row = Draw.html("div", { class: "axis" }, box);
      Draw.html("span", { class: "axis-name" }, row, axis.name);
      State.levels(j).forEach((i) => {
        const level = axis.levels[i];
        const target = key.slice();
        target[j] = i;
        const exists = State.cellOf(target) >= 0;
        const button = Draw.html("button", { type: "button", "data-axis": axis.name, "data-level": level, "aria-pressed": String(key[j] === i), class: exists ? null : "snaps", title: exists ? null : "no runs with the other settings as they are: picking this changes them too" }, row, level);
        button.addEventListener("click", () => pick(state, role, j, i));
      });
    });
  }

  function pick(state, role, j, i) {
    const wanted = state[role].slice();
    wanted[j] = i;
    const key = State.choose(state[role], j, i);
    const changed = State.differences(wanted, key);
    const axis = D.axes[j];
    const message = changed.length ? `${role.toUpperCase()}: ${axis.name} ${axis.levels[i]} has no runs with the other settings; showing ${changed.join(", ")}.` : "";
    go({ ...state, [role]: key }, message);
  }

  function compareBar(parent, state) {
    const bar = Draw.html("div", { class: "compare-bar" }, parent);
    const button = (id, text, next) => Draw.html("button", { type: "button", id }, bar, text).addEventListener("click", () => go(next()));
    if (!state.b) {
      // Start from A's affine control, the comparison the benchmark is about.
      const control = State.control(State.cellOf(state.a));
      const b = control !== null && control !== State.cellOf(state.a) ? D.cells[control].k : state.a;
      button("compare", "Compare A with another cell", () => ({ ...state, b: b.slice() }));
      return;
    }
    button("stop-compare", "Stop comparing", () => ({ ...state, b: null }));
    button("swap", "Swap A and B", () => ({ ...state, a: state.b, b: state.a }));
    controls(parent, state, "b");
  }

  // A - B in mean test accuracy (R^2 for regression cells), paired by replicate (a data sample
  // and a seed) when both cells have the same replicates; nothing when one is scored by
  // accuracy and the other by R^2.
  function difference(parent, state) {
    const [a, b] = [state.a, state.b].map((key) => D.cells[State.cellOf(key)]);
    if ((a.score || "test_acc") !== (b.score || "test_acc")) {
      Draw.html("p", { class: "difference", id: "difference" }, parent, "A and B are scored differently (one by test accuracy, the other by test R²), so they are not compared.");
      return;
    }
    const r2 = a.score === "test_r2";
    const same = a.s.length === b.s.length && a.s.every((s) => b.s.includes(s));
    let av = a.acc;
    let bv = b.acc;
    if (same) bv = a.s.map((s) => b.acc[b.s.indexOf(s)]); // aligned with A's replicates
    const [d, low, high] = Stats.meanDifference(bv, av, same); // mean(av) - mean(bv)
    const box = Draw.html("p", { class: "difference", id: "difference", "data-point": d, "data-low": low, "data-high": high, "data-paired": String(same) }, parent);
    const signed = r2 ? Stats.signed : Stats.points;
    box.append(r2 ? "A − B, mean test R²: " : "A − B, mean test accuracy: ");
    Draw.html("b", {}, box, r2 ? signed(d) : `${signed(d)} points`);
    const how = same ? `paired by replicate over ${a.s.length} replicates` : `unpaired: A has ${a.acc.length} replicates, B ${b.acc.length}, not the same ones`;
    box.append(` [${signed(low)}, ${signed(high)}] (95% bootstrap interval, ${how}). `);
    let verdict = "Too few replicates for an interval.";
    const better = r2 ? "fits better" : "is more accurate";
    if (Number.isFinite(low) && Number.isFinite(high)) {
      if (low > 0) verdict = `The interval is above zero: A ${better}.`;
      else if (high < 0) verdict = `The interval is below zero: B ${better}.`;
      else verdict = "The interval includes zero: no clear difference.";
    }
    box.append(verdict);
  }

  // ------------------------------------------------------------------ overview

  function overview(parent, state) {
    const box = Draw.html("section", { class: "overview", id: "overview" }, parent);
    Draw.html("h2", {}, box, "Overview: one measure along one axis");
    const bar = Draw.html("div", { class: "selects" }, box);
    const select = (label, id, options, value, set) => {
      const wrap = Draw.html("label", {}, bar, `${label} `);
      const node = Draw.html("select", { id }, wrap);
      for (const o of options) Draw.html("option", { value: o, ...(o === value ? { selected: "" } : {}) }, node, o);
      node.addEventListener("change", () => go(set(node.value)));
    };
    select("measure", "measure", D.measures.map((m) => m.name), state.measure, (v) => ({ ...state, measure: v }));
    select("along", "along", State.axes().map((j) => D.axes[j].name), state.along, (v) => ({ ...state, along: v }));
    overviewChart(box, state);
  }

  function overviewChart(box, state) {
    const j = State.axisIndex(state.along);
    const act = State.axisIndex("activation");
    const byActivation = act >= 0 && act !== j && State.varies("activation");
    const seriesLevels = byActivation ? State.levels(act) : [null];
    const along = State.levels(j); // the levels of the study, in order: x positions 0, 1, ...
    const m = D.measures.findIndex((x) => x.name === state.measure);
    // A cell's score (test_acc, or test_r2 for regression) is drawn with its bootstrap interval.
    const scored = (cell) => state.measure === (cell.score || "test_acc");
    // series -> points {x (position along the axis), key, cell, mean, low, high}
    const series = seriesLevels.map((s) =>
      along.map((i, x) => {
        const key = state.a.slice();
        key[j] = i;
        if (s !== null) key[act] = s;
        const c = State.cellOf(key);
        if (c < 0 || D.cells[c].m[m][0] === null) return null;
        const cell = D.cells[c];
        const [mean, low, high] = scored(cell) ? cell.ci : cell.m[m];
        return { x, key, cell, mean, low: low ?? mean, high: high ?? mean };
      }),
    );
    const points = series.flat().filter(Boolean);
    if (!points.length) {
      const own = D.cells[State.cellOf(state.a)].score || "test_acc";
      const hint = own !== state.measure ? ` (A is scored by ${own}: pick that measure)` : "";
      Draw.html("p", { class: "note" }, box, `No ${state.measure} values along ${state.along} with A's other settings${hint}.`);
      return;
    }
    const lo = Math.min(0, ...points.map((p) => p.low));
    const hi = Math.max(...points.map((p) => p.high));
    const top = hi > lo ? hi + 0.05 * (hi - lo) : lo + 1; // all equal (often all 0): a unit range
    const frame = Draw.chart(box, { width: 680, height: 280, margin: { left: 60 }, x: along.map((i) => D.axes[j].levels[i]), y: [lo, top], xLabel: state.along, yLabel: state.measure, yFormat: (t) => Stats.measure(state.measure, t) });
    const aCell = State.cellOf(state.a);
    series.forEach((pts, s) => {
      const colour = Draw.activationColour(seriesLevels[s] ?? 0);
      const dx = (s - (series.length - 1) / 2) * 3; // dodge, so bars do not hide each other
      const at = (p, v) => [frame.x(p.x) + dx, frame.y(v)];
      // A line only where the axis is ordered (depth, noise): not across datasets or activations.
      if (D.axes[j].numeric) Draw.line(frame.plot, pts.map((p) => (p ? at(p, p.mean) : null)), { stroke: colour, class: "series" });
      for (const p of pts.filter(Boolean)) {
        const [x, y0] = at(p, p.low);
        Draw.svg("line", { x1: x, x2: x, y1: y0, y2: at(p, p.high)[1], stroke: colour, class: "bar" }, frame.plot);
        const perPoint = byActivation ? colour : Draw.activationColour(p.key[act] ?? 0);
        const text = `${State.describe(p.key)}: ${Stats.measure(state.measure, p.mean)} [${Stats.measure(state.measure, p.low)}, ${Stats.measure(state.measure, p.high)}], ${p.cell.acc.length} replicates`;
        const isA = State.cellOf(p.key) === aCell;
        const dot = Draw.dot(frame.plot, ...at(p, p.mean), isA ? 6 : 4, { fill: perPoint, class: isA ? "point current" : "point" }, text);
        dot.addEventListener("click", () => go({ ...state, a: p.key }));
      }
    });
    legend(box, byActivation ? seriesLevels : [], act);
    const others = State.axes()
      .filter((k) => k !== j && !(byActivation && k === act))
      .map((k) => `${D.axes[k].name} ${D.axes[k].levels[state.a[k]]}`);
    const bars = points.some((p) => scored(p.cell)) ? "95% bootstrap interval over replicates" : "range over replicates";
    Draw.html("p", { class: "note" }, box, `Other axes as in A${others.length ? ` (${others.join(", ")})` : ""}. Points: mean over replicates (a data sample and a seed each); bars: ${bars}. Hover for numbers; click a point to make it A.`);
  }

  function legend(box, levels, act) {
    const list = Draw.html("ul", { class: "legend" }, box);
    for (const s of levels) {
      const item = Draw.html("li", {}, list);
      Draw.html("span", { class: "swatch", style: `background:${Draw.activationColour(s)}` }, item);
      item.append(D.axes[act].levels[s]);
    }
  }

  // ------------------------------------------------------------------ start

  function header() {
    const info = document.getElementById("grid-info");
    const g = D.grid;
    const fixed = Object.entries(D.fixed).map(([k, v]) => `${k} ${v}`).join(", ");
    const description = g.description && !/[.!?]$/.test(g.description) ? `${g.description}.` : g.description;
    const out = [g.failed ? `${g.failed} failed` : "", g.diverged ? `${g.diverged} diverged` : ""].filter(Boolean);
    const left = out.length ? ` (${out.join(", ")}: left out of every statistic, as in the report)` : "";
    const where = State.several() ? `${D.blocks.length} studies (a run two studies share is stored once)` : `${D.cells.length} cells`;
    info.textContent = `Grid ${g.name}: ${g.runs} runs in ${where}${left}. ${description}`;
    Draw.html("br", {}, info);
    info.append(`The same in every run: ${fixed || "nothing"}.`);
  }

  header();
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
