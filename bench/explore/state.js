"use strict";
// The page's state and the URL fragment, which always say the same thing:
//   #block=features                              the study shown, when the grid has several
//                                                (absent: the main block, the first)
//   &dataset=circles&activation=relu&depth=2    cell A: one level per axis varying in the study
//   &vs.activation=none&vs.depth=2               cell B, when comparing (absent otherwise)
//   &measure=linear_fit_r2&along=depth           the overview: one measure against one axis
//   &curve=loss                                  the learning curves shown: acc or loss
// Levels are written as the page names them (data.axes[j].levels). Unknown keys and values
// are ignored; a combination the study lacks snaps to the nearest cell that it has. A fragment
// with no cell (empty, or only a block) is the study's first view, its lesson (block.start): A
// the linear network, B the activation that beats it by the most, on raw inputs.
// In the state a cell is its key: one level index per axis of the grid, as in data.cells[i].k
// (an axis the study does not vary is at its one level there).

const State = (() => {
  let D = null;
  let B = null; // the study shown: one of data.blocks
  let byKey = new Map(); // "i0,i1,..." -> cell index, within B
  let place = new Map(); // cell index -> its position in B.cells

  function init(data) {
    D = data;
    setBlock(D.blocks[0].name);
  }

  // Shows the block named `name` (the main block if none is): its cells, axes and levels.
  function setBlock(name) {
    B = D.blocks.find((block) => block.name === name) || D.blocks[0];
    byKey = new Map(B.cells.map((i) => [D.cells[i].k.join(","), i]));
    place = new Map(B.cells.map((i, n) => [i, n]));
  }

  const block = () => B;
  const several = () => D.blocks.length > 1;
  const axes = () => B.axes; // the indices of the axes that vary in the study
  const levels = (j) => B.levels[j]; // the level indices the study uses on axis j
  const inBlock = (i) => place.has(i);
  // A cell's affine control and the best cell on its data, both within the study (or null).
  const control = (i) => (place.has(i) ? B.control[place.get(i)] : null);
  const best = (i) => (place.has(i) ? B.best[place.get(i)] : null);

  const cellOf = (key) => (key && byKey.has(key.join(",")) ? byKey.get(key.join(",")) : -1);
  const axisIndex = (name) => D.axes.findIndex((axis) => axis.name === name);
  const varies = (name) => B.axes.includes(axisIndex(name));

  // The cell of the study nearest to `key`, keeping key[keep] if keep >= 0. Agreeing on an
  // earlier axis (dataset before width) outweighs all later ones; among the levels of an axis
  // that differs, a nearer one (in level order) is preferred.
  function snap(key, keep = -1) {
    if (cellOf(key) >= 0) return key.slice();
    let best = D.cells[B.cells[0]].k;
    let bestScore = -Infinity;
    for (const i of B.cells) {
      const cell = D.cells[i];
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

  const defaultAlong = () => (varies("depth") ? "depth" : D.axes[B.axes[0]].name);

  // The state a fragment says; it shows (setBlock) the study it names.
  function parse(hash) {
    const text = hash.replace(/^#/, "");
    const params = new URLSearchParams(text);
    setBlock(params.get("block"));
    const read = (prefix, fallback) =>
      D.axes.map((axis, j) => {
        const i = axis.levels.indexOf(params.get(prefix + axis.name));
        return i >= 0 ? i : fallback[j];
      });
    const start = B.start && B.start.a ? B.start : { a: D.cells[B.cells[0]].k, b: null };
    const first = { block: B.name, measure: B.measure || "test_acc", along: defaultAlong(), curve: "acc" };
    if ([...params.keys()].every((k) => k === "block")) return { ...first, a: snap(start.a), b: start.b ? snap(start.b) : null };
    const a = snap(read("", start.a));
    const comparing = D.axes.some((axis) => params.has(`vs.${axis.name}`));
    const measure = params.get("measure");
    const along = params.get("along");
    return {
      ...first,
      a,
      b: comparing ? snap(read("vs.", a)) : null,
      measure: D.measures.some((m) => m.name === measure) ? measure : first.measure,
      along: axisIndex(along) >= 0 && varies(along) ? along : first.along,
      curve: params.get("curve") === "loss" ? "loss" : "acc",
    };
  }

  function format(state) {
    const enc = encodeURIComponent;
    const shown = D.blocks.find((b) => b.name === state.block) || D.blocks[0];
    const parts = several() ? [`block=${enc(shown.name)}`] : [];
    const level = (key, j) => `${enc(D.axes[j].name)}=${enc(D.axes[j].levels[key[j]])}`;
    for (const j of shown.axes) parts.push(level(state.a, j));
    if (state.b) for (const j of shown.axes) parts.push(`vs.${level(state.b, j)}`);
    parts.push(`measure=${enc(state.measure)}`, `along=${enc(state.along)}`, `curve=${state.curve}`);
    return parts.join("&");
  }

  // A cell in words, by the axes the study varies: "circles · noise 0.1 · relu · depth 2"
  // (dataset and activation bare).
  function describe(key) {
    return B.axes
      .map((j) => [D.axes[j], key[j]])
      .map(([axis, i]) => (axis.name === "dataset" || axis.name === "activation" ? axis.levels[i] : `${axis.name} ${axis.levels[i]}`))
      .join(" · ");
  }

  return { init, setBlock, block, several, axes, levels, inBlock, control, best, cellOf, axisIndex, varies, snap, choose, differences, parse, format, describe };
})();
