"use strict";
// Numbers for the explore page: unpacking the embedded arrays, a seeded percentile bootstrap
// (the same rules as bench.stats.bootstrap_ci), and formatting.

const Stats = (() => {
  const MISSING_U16 = 65535; // bench/explore/encode.py: a curve point that is NaN or infinite
  const N_RESAMPLES = 2000;

  // base64 of zlib-compressed bytes -> Uint8Array (the browser's own inflater; async).
  async function inflate(b64) {
    const text = atob(b64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // Little-endian uint16 values of a byte array.
  function uint16(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Uint16Array(bytes.byteLength / 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true);
    return out;
  }

  // mulberry32: a small seeded generator, so an interval is the same on every visit.
  function generator(seed) {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const finite = (values) => values.filter((v) => v !== null && Number.isFinite(v));
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const allEqual = (values) => values.every((v) => v === values[0]);

  // numpy's default quantile: linear interpolation between order statistics.
  function quantile(sorted, q) {
    const h = (sorted.length - 1) * q;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
  }

  // One bootstrap replicate of the mean of `values`.
  function resampledMean(values, random) {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[Math.floor(random() * values.length)];
    return sum / values.length;
  }

  function percentiles(replicates, confidence) {
    replicates.sort((a, b) => a - b);
    const alpha = 1 - confidence;
    return [quantile(replicates, alpha / 2), quantile(replicates, 1 - alpha / 2)];
  }

  // Difference of means b - a with a 95% percentile bootstrap interval: [point, low, high].
  // paired: a[i] and b[i] share a seed, and the interval is over the per-seed differences;
  // unpaired: each side is resampled on its own. Like bootstrap_ci: no value gives NaN, one
  // value (per side) gives no interval, constant values give a zero-width interval.
  function meanDifference(a, b, paired, confidence = 0.95, seed = 0) {
    const random = generator(seed);
    const replicates = [];
    if (paired) {
      const d = [];
      for (let i = 0; i < a.length; i++) d.push(b[i] - a[i]);
      const diffs = finite(d);
      if (!diffs.length) return [NaN, NaN, NaN];
      const point = mean(diffs);
      if (diffs.length < 2) return [point, NaN, NaN];
      if (allEqual(diffs)) return [point, point, point];
      for (let r = 0; r < N_RESAMPLES; r++) replicates.push(resampledMean(diffs, random));
      return [point, ...percentiles(replicates, confidence)];
    }
    const [fa, fb] = [finite(a), finite(b)];
    if (!fa.length || !fb.length) return [NaN, NaN, NaN];
    const point = mean(fb) - mean(fa);
    if (fa.length < 2 || fb.length < 2) return [point, NaN, NaN];
    if (allEqual(fa) && allEqual(fb)) return [point, point, point];
    for (let r = 0; r < N_RESAMPLES; r++) {
      replicates.push(resampledMean(fb, random) - resampledMean(fa, random));
    }
    return [point, ...percentiles(replicates, confidence)];
  }

  // Formatting: accuracies as percentages, other measures with 4 significant digits.
  const missing = (x) => x === null || x === undefined || !Number.isFinite(x);
  const pct = (x, digits = 1) => (missing(x) ? "–" : `${(100 * x).toFixed(digits)}%`);
  const points = (x) => (missing(x) ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)}`);
  function num(x) {
    if (missing(x)) return "–";
    if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
    return Number(x.toPrecision(4)).toString();
  }
  const isAccuracy = (name) => /(^|_)acc$/.test(name) || name === "gen_gap";
  const measure = (name, x) => (isAccuracy(name) ? pct(x) : num(x));
  // R^2 (a regression cell's score): three decimals, as the report prints it.
  const r2 = (x) => (missing(x) ? "–" : x.toFixed(3));
  const signed = (x) => (missing(x) ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(3)}`);
  // A cell's score as written: accuracy as a percentage, R^2 with three decimals.
  const score = (cell, x) => (cell.score === "test_r2" ? r2(x) : pct(x));

  return { MISSING_U16, inflate, uint16, meanDifference, quantile, pct, points, num, measure, isAccuracy, missing, r2, signed, score };
})();
