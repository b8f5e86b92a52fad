"use strict";
// The page's state and the URL fragment, which always say the same thing:
//   #dataset=circles&activation=relu&depth=2    cell A: one level per varying axis
//   &vs.activation=none&vs.depth=2               cell B, when comparing (absent otherwise)
//   &measure=linear_fit_r2&along=depth           the overview: one measure against one axis
//   &curve=loss                                  the learning curves shown: acc or loss
// Levels are written as the page names them (data.axes[j].levels). Unknown keys and values
// are ignored; a combination the grid lacks snaps to the nearest cell that it has. An empty
// fragment is the first view, the lesson (data.start): A the linear network, B the activation
// that beats it by the most, on raw inputs.
// In the state a cell is its key: one level index per axis, as in data.cells[i].k.

const State = (() => {
  let D = null;
  const byKey = new Map(); // "i0,i1,..." -> cell index

  function init(data) {
    D = data;
    data.cells.forEach((cell, i) => byKey.set(cell.k.join(","), i));
  }

  const cellOf = (key) => (key && byKey.has(key.join(",")) ? byKey.get(key.join(",")) : -1);
  const axisIndex = (name) => D.axes.findIndex((axis) => axis.name === name);

  // The existing cell nearest to `key`, keeping key[keep] if keep >= 0. Agreeing on an earlier
  // axis (dataset before width) outweighs all later ones; among the levels of an axis that
  // differs, a nearer one (in level order) is preferred.
  function snap(key, keep = -1) {
    if (cellOf(key) >= 0) return key.slice();
    let best = D.cells[0].k;
    let bestScore = -Infinity;
    for (const cell of D.cells) {
      if (keep >= 0 && cell.k[keep] !== key[keep]) continue;
      let score = 0;
      cell.k.forEach((level, j) => {
        const weight = 2 ** (cell.k.length - j);
        const distance = Math.abs(level - key[j]) / D.axes[j].levels.length;
        score += level === key[j] ? weight : weight * 0.5 * (1 - distance);
      });
      if (score > bestScore) [best, bestScore] = [cell.k, score];
    }
    return best.slice();
  }

  // A copy of `key` with axis j set to level i, snapped to an existing cell keeping that choice.
  function choose(key, j, i) {
    const wanted = key.slice();
    wanted[j] = i;
    return snap(wanted, j);
  }

  // The axes on which two keys differ, as "axis level" text (to say what a snap changed).
  function differences(key, other) {
    return D.axes.flatMap((axis, j) => (key[j] === other[j] ? [] : [`${axis.name} ${axis.levels[other[j]]}`]));
  }

  const defaultAlong = () => (axisIndex("depth") >= 0 ? "depth" : D.axes[0].name);

  function parse(hash) {
    const text = hash.replace(/^#/, "");
    const params = new URLSearchParams(text);
    const read = (prefix, fallback) =>
      D.axes.map((axis, j) => {
        const i = axis.levels.indexOf(params.get(prefix + axis.name));
        return i >= 0 ? i : fallback[j];
      });
    const start = D.start && D.start.a ? D.start : { a: D.cells[0].k, b: null };
    if (!text) return { a: snap(start.a), b: start.b ? snap(start.b) : null, measure: D.defaultMeasure || "test_acc", along: defaultAlong(), curve: "acc" };
    const a = snap(read("", start.a));
    const comparing = D.axes.some((axis) => params.has(`vs.${axis.name}`));
    const measure = params.get("measure");
    const along = params.get("along");
    return {
      a,
      b: comparing ? snap(read("vs.", a)) : null,
      measure: D.measures.some((m) => m.name === measure) ? measure : D.defaultMeasure || "test_acc",
      along: axisIndex(along) >= 0 ? along : defaultAlong(),
      curve: params.get("curve") === "loss" ? "loss" : "acc",
    };
  }

  function format(state) {
    const enc = encodeURIComponent;
    const parts = D.axes.map((axis, j) => `${enc(axis.name)}=${enc(axis.levels[state.a[j]])}`);
    if (state.b) D.axes.forEach((axis, j) => parts.push(`vs.${enc(axis.name)}=${enc(axis.levels[state.b[j]])}`));
    parts.push(`measure=${enc(state.measure)}`, `along=${enc(state.along)}`, `curve=${state.curve}`);
    return parts.join("&");
  }

  // A cell in words: "circles · noise 0.1 · relu · depth 2" (dataset and activation bare).
  function describe(key) {
    return D.axes
      .map((axis, j) => (axis.name === "dataset" || axis.name === "activation" ? axis.levels[key[j]] : `${axis.name} ${axis.levels[key[j]]}`))
      .join(" · ");
  }

  return { init, cellOf, axisIndex, snap, choose, differences, parse, format, describe };
})();
