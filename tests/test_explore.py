"""Specification of `nonlinbench explore`: one self-contained HTML page over a grid's results.

A tiny real grid (circles; none and relu at depths 1 and 2; three seeds) is trained once per
module. The page must need nothing outside itself, carry data that parses and agrees with the
tables, and, driven in headless Chromium over the DevTools protocol, paint, follow a click
into its URL fragment and come back from a fragment exactly.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_synthetic import make_runs, make_surfaces, write_results

from bench.cli import main
from bench.explore import write_explore_page
from bench.explore.data import explore_data, part_bytes
from bench.explore.encode import unpack
from bench.grid.parse import load_grid
from bench.results.blocks import block_title
from bench.run.runner import run_grid
from bench.stats import bootstrap_ci

TINY_GRID = """
name = "explore_tiny"
description = "none against relu at two depths, three seeds"

[grid]
dataset = "circles"
n_samples = 100
noise = 0.1
activation = ["none", "relu"]
depth = [1, 2]
width = 4
optimizer = "adam"
lr = 0.05
epochs = 20
eval_every = 10
seed = { range = [0, 3] }
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """The tiny grid's results folder (12 runs, 4 cells)."""
    root = tmp_path_factory.mktemp("explore")
    grid_file = root / "grid.toml"
    grid_file.write_text(TINY_GRID)
    out = root / "results"
    import torch

    threads = torch.get_num_threads()
    try:
        run_grid(load_grid(grid_file), out, device="cpu", jobs=1, threads=1, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def page(results) -> Path:
    return write_explore_page(results, results.parent / "report" / "explore.html")


def embedded_data(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="explore-data">(.*?)</script>', html, re.S
    )
    assert match, "the page embeds its data in a JSON script element"
    return json.loads(match.group(1))


def cell_runs(results: Path, **axes) -> pd.DataFrame:
    runs = pd.read_parquet(results / "runs.parquet")
    for axis, value in axes.items():
        runs = runs[runs[axis] == value]
    return runs.sort_values(["data_seed", "seed"])


# --------------------------------------------------------------------------- the file


def test_the_page_is_one_file_with_nothing_to_fetch(page):
    html = page.read_text()
    assert html.startswith("<!doctype html>")
    # No resource from a network or another file: no src/href to anything, no <link>, no
    # CSS import or url(), no fetch or XHR in the scripts.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", html, re.I)
    assert not re.search(r"<link\b", html, re.I)
    assert not re.search(r"@import|url\(", html, re.I)
    assert not re.search(r"\bfetch\(|XMLHttpRequest|import\(", html)
    assert "<script src" not in html
    # The scripts and the style are inlined.
    assert "const Draw" in html and "const State" in html and ".panels" in html


def test_the_embedded_data_parses_and_agrees_with_the_tables(page, results):
    data = embedded_data(page.read_text())
    assert [a["name"] for a in data["axes"]] == ["activation", "depth"]
    assert data["axes"][0]["levels"] == ["none", "relu"]
    assert data["replicates"] == [["42", "0"], ["42", "1"], ["42", "2"]]
    assert data["grid"]["name"] == "explore_tiny" and data["grid"]["runs"] == 12
    cells = {tuple(c["k"]): c for c in data["cells"]}
    assert len(cells) == 4

    relu2 = cells[(1, 1)]
    runs = cell_runs(results, activation="relu", depth=2)
    acc = runs["test_acc"].to_numpy()
    assert relu2["acc"] == pytest.approx(acc, abs=1e-5)
    assert relu2["ci"] == pytest.approx(list(bootstrap_ci(acc)), abs=1e-5)
    # one block (a grid without [[block]] tables): every cell and axis, no study to choose
    (block,) = data["blocks"]
    assert block["name"] == "main" and block["cells"] == list(range(4)) and block["axes"] == [0, 1]
    i = data["cells"].index(relu2)
    assert data["cells"][block["control"][i]]["k"] == [0, 1]  # none at the same depth
    assert cells[(0, 1)]["affine"] and not relu2["affine"]
    best = max(data["cells"], key=lambda c: c["ci"][0])
    assert all(data["cells"][b] is best for b in block["best"])

    # Surfaces: quantised probabilities within 1/255 of the stored ones, and the test points.
    stored = pd.read_parquet(results / "surfaces.parquet")
    row = stored[(stored.activation == "relu") & (stored.depth == 2)].iloc[0]
    surface = data["surfaces"][relu2["surface"]]
    res = surface["res"]
    values = unpack(surface["data"], np.uint8)
    assert res == row["resolution"] and values.size == 2 * res * res
    assert np.abs(values[: res * res] / 255 - np.asarray(row["prob"])).max() <= 0.5 / 255 + 1e-6
    assert (values[res * res :] == np.asarray(row["pred"])).all()
    assert data["tests"][surface["test"]]["label"] == list(row["test_label"])

    # Curves: the mean over seeds, as uint16.
    curves = pd.read_parquet(results / "curves.parquet")
    mean = curves[curves.run_id.isin(runs.run_id)].groupby("epoch")["test_acc"].mean()
    record = data["curves"][data["cells"].index(relu2)]
    q = unpack(record["data"], np.uint16).reshape(4, 3, -1)
    assert data["epochs"][record["epochs"]] == list(mean.index)
    assert q[3, 0] / 65534 == pytest.approx(mean.to_numpy(), abs=1e-4)


def test_part_sizes_add_up(results):
    sizes = part_bytes(explore_data(results))
    assert set(sizes) == {"surfaces", "runs summary", "curves", "total"}
    assert sum(v for k, v in sizes.items() if k != "total") <= sizes["total"]


# --------------------------------------------------------------------------- the command


def test_the_command_writes_the_page_where_asked(results, tmp_path, capsys):
    out = tmp_path / "page.html"
    argv = ["explore", "--results", str(results), "--out", str(out), "--title", "Tiny"]
    assert main(argv) == 0
    assert "<title>Tiny</title>" in out.read_text()


def test_missing_results_are_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explore", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no results in results/nowhere" in err and "nonlinbench run nowhere" in err
    assert main(["explore"]) == 2
    assert "explore needs a grid" in capsys.readouterr().err


# --------------------------------------------------------------------------- in a browser

CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
)
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-pipe",
)  # fmt: skip


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
    the browser reads commands on fd 3 and writes replies on fd 4, each JSON ending in NUL), so
    no port, websocket or driver is needed."""

    def __init__(self, timeout: float = 20.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="explore-chromium-")
        to_browser, self._send_fd = os.pipe()
        self._read_fd, from_browser = os.pipe()

        def wire_fds():  # in the child: its fd 3 reads our commands, its fd 4 writes replies
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire_fds,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.errors: list[str] = []  # uncaught exceptions and console errors in the page
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Runtime.enable", session=True)
        self.call("Page.enable", session=True)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._send_fd, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._note_event(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read_fd], [], [], left)[0]:
                raise TimeoutError("no reply from Chromium")
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _note_event(self, event: dict) -> None:
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details["text"])
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Loads `url` afresh (about:blank first, so a new fragment is a new load)."""
        self.call("Page.navigate", session=True, url="about:blank")
        self.call("Page.navigate", session=True, url=url)

    def wait_drawn(self) -> str:
        """The fragment, once the page says everything of its state is drawn."""
        expression = "document.body && document.body.dataset.ready === location.hash.slice(1) ? location.hash.slice(1) : null"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            fragment = self.evaluate(expression)
            if fragment:
                return fragment
            time.sleep(0.05)
        raise TimeoutError(f"the page did not finish drawing; errors: {self.errors}")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._send_fd, self._read_fd):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip(
            "chromium is not installed (apt-get install chromium; .ci/run "
            "installs it): the page's behaviour in a browser is not checked"
        )
    chromium = Chromium()
    yield chromium
    chromium.close()


def test_in_a_browser_the_page_paints_follows_clicks_and_restores_a_linked_view(
    browser, page, results
):
    url = page.resolve().as_uri()

    # 1. First paint: the lesson, A = none against B = relu at the depth where relu gains the
    # most (the first of equals), and the fragment says so.
    gain = {
        d: cell_runs(results, activation="relu", depth=d)["test_acc"].mean()
        - cell_runs(results, activation="none", depth=d)["test_acc"].mean()
        for d in (1, 2)
    }
    depth = 2 if gain[2] > gain[1] else 1
    browser.open(url)
    fragment = browser.wait_drawn()
    assert fragment == (
        f"activation=none&depth={depth}&vs.activation=relu&vs.depth={depth}"
        "&measure=test_acc&along=depth&curve=acc"
    )
    assert browser.evaluate("window.exploreFirstDrawn") < 5000  # ms from navigation
    assert browser.evaluate("document.querySelector('#study')") is None  # one block: no choice
    assert browser.evaluate("document.querySelector('#a-surface') !== null")
    assert browser.evaluate("document.querySelector('#b-surface') !== null")
    # The first screen of a 1400 x 1000 window shows both surfaces whole, without scrolling.
    browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1400, height=1000,
                 deviceScaleFactor=1, mobile=False)  # fmt: skip
    for surface in ("#a-surface", "#b-surface"):
        box = browser.evaluate(
            f"JSON.stringify(document.querySelector('{surface}').getBoundingClientRect())"
        )
        box = json.loads(box)
        assert 0 <= box["top"] and box["bottom"] <= 1000 and box["right"] <= 1400, (surface, box)
    browser.call("Emulation.clearDeviceMetricsOverride", session=True)

    # From here on, one cell: none at depth 1.
    browser.open(f"{url}#activation=none&depth=1")
    assert browser.wait_drawn() == "activation=none&depth=1&measure=test_acc&along=depth&curve=acc"

    # 2. Pick relu: the fragment follows, and the accuracy shown is the tables' mean.
    browser.evaluate(
        "document.querySelector('.controls-a [data-axis=activation][data-level=relu]').click()"
    )
    fragment = browser.wait_drawn()
    assert "activation=relu" in fragment and "depth=1" in fragment
    mean = cell_runs(results, activation="relu", depth=1)["test_acc"].mean()
    assert browser.evaluate("document.querySelector('#a-acc').textContent") == f"{100 * mean:.1f}%"
    assert float(
        browser.evaluate("document.querySelector('#a-acc').dataset.mean")
    ) == pytest.approx(mean, abs=1e-5)

    # 3. Compare with the affine control: A - B, paired by seed, as Python computes it.
    browser.evaluate("document.querySelector('#compare').click()")
    fragment = browser.wait_drawn()
    assert "vs.activation=none" in fragment and "vs.depth=1" in fragment
    diff = browser.evaluate("JSON.stringify(document.querySelector('#difference').dataset)")
    diff = json.loads(diff)
    relu = cell_runs(results, activation="relu", depth=1)["test_acc"].to_numpy()
    none = cell_runs(results, activation="none", depth=1)["test_acc"].to_numpy()
    expected = bootstrap_ci(relu - none)
    assert diff["paired"] == "true"
    assert float(diff["point"]) == pytest.approx(expected.point, abs=1e-5)
    for js, py in ((diff["low"], expected.low), (diff["high"], expected.high)):
        if np.isnan(py):
            assert js == "NaN"
        else:  # another generator, the same percentile bootstrap
            assert float(js) == pytest.approx(py, abs=0.05)

    # 4. A linked view reopens exactly: a fresh load of a fragment restores every choice.
    linked = "activation=relu&depth=2&vs.activation=none&vs.depth=2&measure=linear_fit_r2&along=activation&curve=loss"
    browser.open(f"{url}#{linked}")
    assert browser.wait_drawn() == linked
    pressed = browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('.controls-a [aria-pressed=true]')].map(b => b.dataset.level))"
    )
    assert json.loads(pressed) == ["relu", "2"]
    assert browser.evaluate("document.querySelector('#measure').value") == "linear_fit_r2"
    assert (
        browser.evaluate("document.querySelector('[data-curve=loss]').getAttribute('aria-pressed')")
        == "true"
    )
    mean2 = cell_runs(results, activation="relu", depth=2)["test_acc"].mean()
    assert browser.evaluate("document.querySelector('#a-acc').textContent") == f"{100 * mean2:.1f}%"

    # 5. A fragment the grid cannot show is normalised to a cell it has.
    browser.open(f"{url}#activation=swish&depth=7")
    assert browser.wait_drawn() == (
        f"activation=none&depth={depth}&measure=test_acc&along=depth&curve=acc"
    )
    assert browser.errors == []


# --------------------------------------------------------------------------- regression cells

MIXED_GRID = """
name = "explore_mixed"
description = "a classification and a regression dataset"

[grid]
dataset = ["circles", "sine"]
n_samples = 100
noise = 0.1
activation = ["none", "tanh"]
depth = 1
width = 8
optimizer = "adam"
lr = 0.05
epochs = 30
eval_every = 10
seed = { range = [0, 3] }
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """A mixed grid's results folder (12 runs, 4 cells: circles and sine x none and tanh)."""
    root = tmp_path_factory.mktemp("explore_mixed")
    grid_file = root / "grid.toml"
    grid_file.write_text(MIXED_GRID)
    out = root / "results"
    import torch

    threads = torch.get_num_threads()
    try:
        run_grid(load_grid(grid_file), out, device="cpu", jobs=1, threads=1, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(scope="module")
def mixed_page(mixed) -> Path:
    return write_explore_page(mixed, mixed.parent / "report" / "explore.html")


def test_regression_cells_carry_r2_where_accuracy_is(mixed_page, mixed):
    from bench.data.ceiling import r2_yardsticks
    from bench.schema import DATA_AXES

    data = embedded_data(mixed_page.read_text())
    assert [a["levels"] for a in data["axes"]] == [["circles", "sine"], ["none", "tanh"]]
    cells = {tuple(c["k"]): c for c in data["cells"]}
    assert "score" not in cells[(0, 1)] and cells[(0, 1)]["acc"][0] <= 1  # circles: accuracy

    tanh = cells[(1, 1)]  # sine, tanh
    runs = cell_runs(mixed, dataset="sine", activation="tanh")
    r2 = runs["test_r2"].to_numpy()
    assert tanh["score"] == "test_r2" and tanh["classes"] == 0
    assert tanh["acc"] == pytest.approx(r2, abs=1e-5)
    assert tanh["ci"] == pytest.approx(list(bootstrap_ci(r2)), abs=1e-5)
    control = data["blocks"][0]["control"][data["cells"].index(tanh)]
    assert data["cells"][control]["k"] == [1, 0]  # none on sine
    assert tanh["ceiling"] is None  # no Bayes accuracy for regression data
    args = {a: runs.iloc[0][a].item() if hasattr(runs.iloc[0][a], "item") else runs.iloc[0][a]
            for a in DATA_AXES}  # fmt: skip
    assert tanh["yard"] == pytest.approx(list(r2_yardsticks(**args)), abs=1e-5)

    # The surface: the predicted value over its range, the test points with their targets.
    stored = pd.read_parquet(mixed / "surfaces.parquet")
    row = stored[(stored.dataset == "sine") & (stored.activation == "tanh")].iloc[0]
    surface = data["surfaces"][tanh["surface"]]
    lo, hi = surface["range"]
    res = surface["res"]
    values = unpack(surface["data"], np.uint8)[: res * res] / 255 * (hi - lo) + lo
    assert surface["plane"] == "line"
    assert np.abs(values - np.asarray(row["prob"])).max() <= 0.5 * (hi - lo) / 255 + 1e-5
    test = data["tests"][surface["test"]]
    assert test["target"] == pytest.approx(list(row["test_target"]), abs=1e-4)

    # The curves: losses then R^2, negative values kept through the offset.
    record = data["curves"][data["cells"].index(tanh)]
    assert record["names"] == ["train_loss", "test_loss", "train_r2", "test_r2"]
    curves = pd.read_parquet(mixed / "curves.parquet")
    mean = curves[curves.run_id.isin(runs.run_id)].groupby("epoch")["test_r2"].mean()
    q = unpack(record["data"], np.uint16).reshape(4, 3, -1)
    decoded = record["offset"][3] + q[3, 0] / 65534 * record["scale"][3]
    assert decoded == pytest.approx(mean.to_numpy(), abs=1e-3 * record["scale"][3])
    assert data["blocks"][0]["measure"] == "test_acc"  # the first cell is circles
    # The first view is a classification lesson: tanh against none on circles.
    assert data["blocks"][0]["start"] == {"a": [0, 0], "b": [0, 1]}


def test_in_a_browser_a_regression_cell_shows_r2_beside_its_yardsticks(browser, mixed_page, mixed):
    url = mixed_page.resolve().as_uri()
    browser.open(f"{url}#dataset=sine&activation=tanh&curve=acc")
    fragment = browser.wait_drawn()
    assert fragment.startswith("dataset=sine&activation=tanh")
    r2 = cell_runs(mixed, dataset="sine", activation="tanh")["test_r2"].mean()
    assert browser.evaluate("document.querySelector('#a-acc').textContent") == f"{r2:.3f}"
    assert "Test R²" in browser.evaluate("document.querySelector('.headline').textContent")
    control = cell_runs(mixed, dataset="sine", activation="none")["test_r2"].mean()
    text = browser.evaluate("document.querySelector('#control-score').textContent")
    assert f"R² {control:.3f}" in text
    assert "R²" in browser.evaluate("document.querySelector('#best-line').textContent")
    assert "noise-free" in browser.evaluate("document.querySelector('#best-possible').textContent")
    assert browser.evaluate("document.querySelector('[data-curve=acc]').textContent") == "R²"
    assert browser.evaluate("document.querySelectorAll('.curves path.curve').length") == 2
    assert "Fitted function" in browser.evaluate(
        "document.querySelector('.surface figcaption').textContent"
    )

    # Compared with its control: the difference is in R^2; with a classification cell, none.
    browser.evaluate("document.querySelector('#compare').click()")
    browser.wait_drawn()
    assert "mean test R²" in browser.evaluate("document.querySelector('#difference').textContent")
    browser.open(f"{url}#dataset=sine&activation=tanh&vs.dataset=circles&vs.activation=tanh")
    browser.wait_drawn()
    assert "scored differently" in browser.evaluate(
        "document.querySelector('#difference').textContent"
    )
    assert browser.errors == []


# --------------------------------------------------------------------------- synthetic results
# Hand-made results folders (tests/report_synthetic.py) whose grids vary an axis beyond the
# runner's surface key, keep a diverged run, and make the first cell in level order a poor
# first view: the page must show each cell's own surface or say it has none, open on the
# lesson, use the report's colours and leave diverged runs out.


def vary(runs: pd.DataFrame, axis: str, values) -> pd.DataFrame:
    """`runs` repeated once per value of `axis`, each copy with fresh run ids."""
    frames = []
    for value in values:
        copy = runs.copy()
        copy[axis] = value
        copy["run_id"] = [
            hashlib.sha256(f"{rid}/{axis}={value}".encode()).hexdigest()[:16]
            for rid in runs["run_id"]
        ]
        frames.append(copy)
    return pd.concat(frames, ignore_index=True)


def synthetic_runs(axis: str = "features", values=("raw", "quadratic")) -> pd.DataFrame:
    """none, relu and tanh on circles and blobs at depths 1 and 2, three seeds (one run failed,
    one diverged), repeated for each of `values` of `axis`. On quadratic features the linear
    network is the best on circles (as it is: x^2 + y^2 separates circles)."""
    runs = make_runs(
        activations=("none", "relu", "tanh"), datasets=("circles", "blobs"),
        depths=(1, 2), widths=(4,), noises=(0.03,),
    )  # fmt: skip
    runs = vary(runs, axis, values)
    if axis == "features":
        quadratic_none = (runs["features"] == "quadratic") & (runs["activation"] == "none")
        runs.loc[quadratic_none & (runs["dataset"] == "circles"), "test_acc"] = 0.99
    return runs


def write_synthetic(path: Path, runs: pd.DataFrame, surfaces: pd.DataFrame) -> Path:
    """A results folder with these runs and surfaces (curves made from the runs)."""
    write_results(path, runs, surfaces=False)
    surfaces.to_parquet(path / "surfaces.parquet", index=False)
    return path


def runner_surfaces(runs: pd.DataFrame, axis: str, first) -> pd.DataFrame:
    """The surfaces the runner stores: one per SURFACE_KEY setting, the first run in grid order,
    which for an axis listed first at `first` is always a run with that value."""
    return make_surfaces(runs[runs[axis] == first])


def cell_of(data: dict, **levels) -> int:
    """The index of the cell with these levels (labels as the page writes them)."""
    names = [a["name"] for a in data["axes"]]
    key = [data["axes"][j]["levels"].index(str(levels[n])) for j, n in enumerate(names)]
    return next(i for i, c in enumerate(data["cells"]) if c["k"] == key)


def levels_of(data: dict, key: list[int]) -> dict:
    return {a["name"]: a["levels"][i] for a, i in zip(data["axes"], key, strict=True)}


def fragment(
    data: dict, a: list[int], b: list[int] | None = None, block: dict | None = None, **view
) -> str:
    """The page's fragment for cells A (and B): State.format's text. With `block` (one of
    data["blocks"], on a page of several), the block first, then only the axes it varies."""
    shown = [data["axes"][j]["name"] for j in block["axes"]] if block else None
    levels = lambda key: {n: v for n, v in levels_of(data, key).items() if not shown or n in shown}  # noqa: E731
    parts = [f"block={block['name']}"] if block else []
    parts += [f"{n}={v}" for n, v in levels(a).items()]
    if b is not None:
        parts += [f"vs.{n}={v}" for n, v in levels(b).items()]
    view = {"measure": "test_acc", "along": "depth", "curve": "acc", **view}
    return "&".join(parts + [f"{k}={v}" for k, v in view.items()])


@pytest.mark.parametrize(
    "axis, values",
    [("features", ("raw", "quadratic")), ("dropout", (0.0, 0.2)), ("weight_decay", (0.0, 0.01))],
)
def test_a_cell_shows_its_own_surface_or_none(tmp_path, axis, values):
    """The bug: a cell differing from the stored run only in `axis` was shown that run's surface
    (the runner's key, SURFACE_KEY, does not hold `axis`). Now such a cell has no surface, and
    `near` points to the other cell's, which the page offers as that cell's."""
    runs = synthetic_runs(axis, values)
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, axis, values[0])))
    names = [a["name"] for a in data["axes"]]
    run_cell = {  # run_id -> cell index, from the page's own cell levels
        run["run_id"]: cell_of(data, **{n: run[n] for n in names}) for _, run in runs.iterrows()
    }
    stored = pd.read_parquet(tmp_path / "surfaces.parquet")
    for i, cell in enumerate(data["cells"]):
        at = levels_of(data, cell["k"])
        if at[axis] == str(values[0]):  # the runner stored this cell's surface: its own
            surface = data["surfaces"][cell["surface"]]
            assert surface["cell"] == i
            rid = stored["run_id"].iloc[cell["surface"]]
            assert run_cell[rid] == i
            assert cell.get("near") is None
        else:  # none stored: said, not replaced by the neighbour's
            assert cell["surface"] is None, f"{at} shows another cell's surface"
            other = {**at, axis: str(values[0])}
            assert data["surfaces"][cell["near"]]["cell"] == cell_of(data, **other)

    # With a surface stored for every cell, each cell shows its own.
    everyone = pd.concat([make_surfaces(runs[runs[axis] == v]) for v in values])
    data = explore_data(write_synthetic(tmp_path / "all", runs, everyone))
    assert all(data["surfaces"][c["surface"]]["cell"] == i for i, c in enumerate(data["cells"]))
    assert all(c["near"] is None for c in data["cells"])


def test_cells_differing_only_in_bookkeeping_share_a_surface(tmp_path):
    """eval_every changes what is recorded, not what is learned: a cell at eval_every 50 shows
    the surface of the same training at eval_every 10 (and says whose it is)."""
    runs = synthetic_runs("eval_every", (10, 50))
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, "eval_every", 10)))
    for cell in data["cells"]:
        at = levels_of(data, cell["k"])
        owner = cell_of(data, **{**at, "eval_every": "10"})
        assert data["surfaces"][cell["surface"]]["cell"] == owner


def test_the_first_view_is_the_lesson(tmp_path):
    """The bug: the page opened on the first cell in level order (then circles, quadratic
    features, none: the linear network at its best). Now it opens on raw inputs, A = the linear
    network and B = the activation that beats it by the most, where it beats it by the most."""
    runs = synthetic_runs()
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, "features", "raw")))
    assert data["axes"][1]["levels"] == ["raw", "quadratic"]  # feature maps as the report orders

    ok = runs[(runs["error"] == "") & ~runs["diverged"] & (runs["features"] == "raw")]
    means = ok.groupby(["dataset", "depth", "activation"])["test_acc"].mean().unstack()
    gains = means.drop(columns="none").sub(means["none"], axis=0).stack()
    dataset, depth, activation = gains.idxmax()
    start = data["blocks"][0]["start"]  # the main block's first view (the only block here)
    a, b = levels_of(data, start["a"]), levels_of(data, start["b"])
    where = {"dataset": dataset, "features": "raw", "depth": str(depth)}
    assert a == {**where, "activation": "none"}
    assert b == {**where, "activation": activation}


def test_without_a_control_the_first_view_is_one_cell_on_raw_inputs(tmp_path):
    runs = synthetic_runs()
    runs = runs[runs["activation"] != "none"]
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, "features", "raw")))
    start = data["blocks"][0]["start"]
    assert start["b"] is None
    assert levels_of(data, start["a"])["features"] == "raw"


def test_the_page_uses_the_reports_colours(tmp_path):
    """One convention with the report (bench.colors, which the report's figures use): class 0
    blue and class 1 orange, seaborn's colorblind palette; values on matplotlib's coolwarm; the
    affine activation grey. The page had class 0 orange and class 1 blue."""
    import matplotlib
    import seaborn as sns
    from matplotlib.colors import to_hex

    from bench import colors

    palette = [to_hex(c) for c in sns.color_palette(colors.PALETTE)]
    assert list(colors.CLASS_COLOURS) == palette
    assert colors.class_colours(12)[10:] == palette[:2]  # seaborn's palette repeats too
    cmap = matplotlib.colormaps[colors.VALUE_CMAP]
    n = len(colors.VALUE_COLOURS)
    assert list(colors.VALUE_COLOURS) == [to_hex(cmap(i / (n - 1))) for i in range(n)]
    assert colors.AFFINE_COLOUR == palette[colors.GREY] == "#949494"

    runs = synthetic_runs()
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, "features", "raw")))
    assert data["colours"]["classes"] == palette
    assert data["colours"]["twoClass"] == [palette[0], "#ffffff", palette[1]]
    assert data["colours"]["values"] == list(colors.VALUE_COLOURS)
    assert data["colours"]["activations"] == ["#949494", palette[0], palette[1]]  # none relu tanh
    scripts = (Path(__file__).parents[1] / "bench" / "explore" / "draw.js").read_text()
    assert "orange 0" not in scripts and "orange (0)" not in scripts


def test_diverged_runs_are_left_out_and_counted(tmp_path):
    """The bug: the page pooled a diverged run's scores with the others'. Like failed runs, and
    as in the report, diverged runs are left out of every statistic and counted."""
    runs = synthetic_runs()
    data = explore_data(write_synthetic(tmp_path, runs, runner_surfaces(runs, "features", "raw")))
    for _, run in runs[runs["diverged"]].iterrows():
        i = cell_of(data, **{a["name"]: run[a["name"]] for a in data["axes"]})
        cell = data["cells"][i]
        same = runs[[a["name"] for a in data["axes"]]] == run[[a["name"] for a in data["axes"]]]
        group = runs[same.all(axis=1)]
        kept = group[(group["error"] == "") & ~group["diverged"]].sort_values("seed")
        assert cell["acc"] == pytest.approx(kept["test_acc"].to_numpy(), abs=1e-5)
        assert cell["diverged"] == 1 and cell["n"] == len(group)
        expected = list(bootstrap_ci(kept["test_acc"].to_numpy()))
        assert cell["ci"] == pytest.approx(expected, abs=1e-5)
        # the curves: the mean over the kept runs only
        curves = pd.read_parquet(tmp_path / "curves.parquet")
        mean = curves[curves.run_id.isin(kept.run_id)].groupby("epoch")["test_acc"].mean()
        q = unpack(data["curves"][i]["data"], np.uint16).reshape(4, 3, -1)
        assert q[3, 0] / 65534 == pytest.approx(mean.to_numpy(), abs=1e-4)
    assert data["grid"]["diverged"] == int(runs["diverged"].sum()) == 2  # one per features copy


@pytest.fixture(scope="module")
def synthetic_page(tmp_path_factory) -> tuple[Path, dict]:
    """A page over synthetic results that vary features, keep a diverged run, and store
    surfaces the runner's way (raw inputs only)."""
    root = tmp_path_factory.mktemp("explore_synthetic")
    runs = synthetic_runs()
    results = write_synthetic(root / "results", runs, runner_surfaces(runs, "features", "raw"))
    page = write_explore_page(results, root / "explore.html")
    return page, embedded_data(page.read_text())


def test_in_a_browser_the_page_opens_on_the_lesson_in_the_reports_colours(browser, synthetic_page):
    page, data = synthetic_page
    url = page.resolve().as_uri()
    start = data["blocks"][0]["start"]

    # 1. The first view is the lesson, on raw inputs.
    browser.open(url)
    assert browser.wait_drawn() == fragment(data, start["a"], start["b"])

    # 2. Colours: the linear network's surface (P(class 1) = sigmoid(3 (x + y / 2)) in the
    # synthetic surfaces) is class 0's blue at the bottom left and class 1's orange at the top
    # right, as in the report; the caption says so.
    pixel = """(() => {{ const c = document.querySelector('#a-surface');
        return Array.from(c.getContext('2d').getImageData({x}, {y}, 1, 1).data.slice(0, 3)); }})()"""
    size = browser.evaluate("document.querySelector('#a-surface').width")
    blue = browser.evaluate(pixel.format(x=1, y=size - 2))
    orange = browser.evaluate(pixel.format(x=size - 2, y=1))
    hex_rgb = lambda h: [int(h[i : i + 2], 16) for i in (1, 3, 5)]  # noqa: E731
    assert blue == pytest.approx(hex_rgb(data["colours"]["classes"][0]), abs=3)
    assert orange == pytest.approx(hex_rgb(data["colours"]["classes"][1]), abs=3)
    caption = browser.evaluate("document.querySelector('#a-surface-figure figcaption').textContent")
    assert "blue 0 (class 0)" in caption and "orange 1 (class 1)" in caption

    # 3. A quadratic-features cell has no stored surface: the panel says so and links to the
    # raw-input cell whose surface it is.
    at = levels_of(data, start["a"])
    browser.open(
        f"{url}#{fragment(data, start['a'])}".replace("features=raw", "features=quadratic")
    )
    browser.wait_drawn()
    assert browser.evaluate("document.querySelector('#a-surface')") is None
    text = browser.evaluate("document.querySelector('#a-no-surface').textContent")
    assert text.startswith("No decision surface was stored for this cell.")
    assert "features raw" in text
    browser.evaluate("document.querySelector('#a-no-surface a').click()")
    assert browser.wait_drawn().startswith(fragment(data, start["a"]).split("&measure")[0])
    assert at["features"] == "raw"

    # 4. The diverged run's cell says it is left out; the header counts it.
    run = data["cells"][next(i for i, c in enumerate(data["cells"]) if c["diverged"])]
    browser.open(f"{url}#{fragment(data, run['k'])}")
    browser.wait_drawn()
    assert "diverged" in browser.evaluate("document.querySelector('#a-diverged').textContent")
    assert "2 diverged" in browser.evaluate("document.querySelector('#grid-info').textContent")
    assert browser.errors == []


# --------------------------------------------------------------------------- studies (blocks)
# A grid of [[block]] tables is several studies (bench.results.blocks): the page offers the study as its
# first choice, and shows the cells, axes and levels of one study at a time.

QUESTION = "Can a linear model on quadratic features do what hidden layers do?"


def two_block_runs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(main, raw, quadratic): a main block (none, relu and tanh on circles and blobs at depths
    1 and 2, raw inputs) and a features block (none and relu on circles, raw and quadratic;
    its raw runs are the main block's: stored once, in both). On quadratic features the linear
    network separates circles."""
    main = make_runs(
        activations=("none", "relu", "tanh"), datasets=("circles", "blobs"),
        depths=(1, 2), widths=(4,), noises=(0.03,),
    )  # fmt: skip
    raw = main[(main["dataset"] == "circles") & main["activation"].isin(["none", "relu"])]
    quadratic = raw.assign(features="quadratic", run_id=raw["run_id"] + "q")
    quadratic.loc[quadratic["activation"] == "none", "test_acc"] = 0.99
    return main, raw, quadratic


def write_blocks(path: Path, runs: pd.DataFrame, blocks: list[tuple[str, str, list]]) -> Path:
    """A results folder of `runs` whose manifest keeps these (name, question, run ids) blocks,
    as `nonlinbench run` writes them (tests/test_report_blocks.py does the same)."""
    write_results(path, runs)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["blocks"] = [
        {"name": name, "question": question, "runs": len(ids), "run_ids": list(ids)}
        for name, question, ids in blocks
    ]
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


@pytest.fixture(scope="module")
def two_blocks(tmp_path_factory) -> tuple[Path, dict]:
    """A page over the two-block results, and its data."""
    root = tmp_path_factory.mktemp("explore_blocks")
    main, raw, quadratic = two_block_runs()
    results = write_blocks(
        root / "results",
        pd.concat([main, quadratic], ignore_index=True),
        [
            ("main", "Which activations?", main["run_id"]),
            ("features", QUESTION, [*raw["run_id"], *quadratic["run_id"]]),
        ],
    )
    page = write_explore_page(results, root / "explore.html")
    return page, embedded_data(page.read_text())


def settings(data: dict, runs: pd.DataFrame) -> set[tuple]:
    """The cells (levels of every axis, as the page names them) that `runs` fill."""
    names = [a["name"] for a in data["axes"]]
    return {tuple(str(run[n]) for n in names) for _, run in runs.iterrows()}


def shown(data: dict, block: dict) -> set[tuple]:
    return {tuple(levels_of(data, data["cells"][i]["k"]).values()) for i in block["cells"]}


def test_each_study_has_its_own_cells_axes_yardsticks_and_first_view(two_blocks):
    from bench.report.blocks import Study, title

    _, data = two_blocks
    main_runs, raw, quadratic = two_block_runs()
    main, features = data["blocks"]
    # Named as the report titles a block's section: its question (else "Block <name>").
    assert [b["name"] for b in data["blocks"]] == ["main", "features"]
    assert [b["title"] for b in data["blocks"]] == ["Which activations?", QUESTION]
    for name, question in (("features", QUESTION), ("extra", "")):
        report = title(Study(name, question, None, None))
        assert report == block_title(name, question)

    # Each study's cells are its runs' settings; a cell the studies share (the raw circles
    # runs, stored once) is one cell in both.
    names = [a["name"] for a in data["axes"]]
    assert names == ["dataset", "features", "activation", "depth"]
    assert shown(data, main) == settings(data, main_runs)
    assert shown(data, features) == settings(data, pd.concat([raw, quadratic]))
    both = set(main["cells"]) & set(features["cells"])
    assert {tuple(levels_of(data, data["cells"][i]["k"]).values()) for i in both} == settings(
        data, raw
    )
    assert len(data["cells"]) == len(set(main["cells"]) | set(features["cells"]))
    assert data["grid"]["runs"] == len(main_runs) + len(quadratic)  # a shared run counts once
    assert (main["runs"], features["runs"]) == (len(main_runs), len(raw) + len(quadratic))

    # An axis that does not vary within a study is shown as fixed for it.
    assert [names[j] for j in main["axes"]] == ["dataset", "activation", "depth"]
    assert [names[j] for j in main["fixed"]] == ["features"]
    assert [names[j] for j in features["axes"]] == ["features", "activation", "depth"]
    assert [names[j] for j in features["fixed"]] == ["dataset"]
    assert main["levels"][1] == [0] and features["levels"][0] == [0]  # raw; circles

    # Control and best are read within the study: the best is the highest mean among the
    # study's cells on the same data (features included); on quadratic features it is the
    # linear model, which the main study does not hold.
    def level(i: int, axis: str) -> str:
        return levels_of(data, data["cells"][i]["k"])[axis]

    def data_of(i: int) -> tuple:
        return level(i, "dataset"), level(i, "features")

    for block in (main, features):
        for i, c, b in zip(block["cells"], block["control"], block["best"], strict=True):
            same = [j for j in block["cells"] if data_of(j) == data_of(i)]
            assert b == max(same, key=lambda j: data["cells"][j]["ci"][0])
            assert c in block["cells"] and level(c, "activation") == "none"
            assert data_of(c) == data_of(i) and level(c, "depth") == level(i, "depth")
    best = {level(b, "activation") for i, b in zip(features["cells"], features["best"], strict=True)
            if level(i, "features") == "quadratic"}  # fmt: skip
    assert best == {"none"}

    # The page's first view is the main study's lesson, computed from its runs alone.
    ok = main_runs[(main_runs["error"] == "") & ~main_runs["diverged"]]
    means = ok.groupby(["dataset", "depth", "activation"])["test_acc"].mean().unstack()
    gains = means.drop(columns="none").sub(means["none"], axis=0).stack()
    dataset, depth, activation = gains.idxmax()
    where = {"dataset": dataset, "features": "raw", "depth": str(depth)}
    assert levels_of(data, main["start"]["a"]) == {**where, "activation": "none"}
    assert levels_of(data, main["start"]["b"]) == {**where, "activation": activation}
    assert all(cell_index_of(data, k) in features["cells"] for k in features["start"].values())


def cell_index_of(data: dict, key: list[int]) -> int:
    return next(i for i, c in enumerate(data["cells"]) if c["k"] == key)


def test_a_study_holding_other_seeds_of_a_setting_has_its_own_cell(tmp_path):
    """Two studies share a setting but not all its seeds (the second ran seeds 0 and 1 only):
    each reads its own seeds, so the setting is a cell in each, and a run in both counts once."""
    main, raw, _ = two_block_runs()
    few = raw[raw["seed"] < 2]
    data = explore_data(
        write_blocks(tmp_path, main, [("main", "", main["run_id"]), ("few", "", few["run_id"])])
    )
    main_block, few_block = data["blocks"]
    assert data["grid"]["runs"] == len(main)
    for _, group in few.groupby(["activation", "depth"]):
        key = group.iloc[0]
        both = [
            i
            for i, c in enumerate(data["cells"])
            if levels_of(data, c["k"])
            == {"dataset": "circles", "activation": key["activation"], "depth": str(key["depth"])}
        ]
        assert len(both) == 2  # one cell per study
        mine, theirs = (next(i for i in both if i in b["cells"]) for b in (few_block, main_block))
        for i, runs in ((mine, group), (theirs, main)):
            at = runs[
                (runs["dataset"] == "circles")
                & (runs["activation"] == key["activation"])
                & (runs["depth"] == key["depth"])
            ]
            kept = at[(at["error"] == "") & ~at["diverged"]].sort_values("seed")
            assert data["cells"][i]["acc"] == pytest.approx(kept["test_acc"].to_numpy(), abs=1e-5)
            assert data["cells"][i]["n"] == len(at)


def test_in_a_browser_the_study_is_the_first_choice_and_restricts_the_cells(browser, two_blocks):
    page, data = two_blocks
    url = page.resolve().as_uri()
    main, features = data["blocks"]
    pressed = "JSON.stringify([...document.querySelectorAll('{} [aria-pressed=true]')].map(b => b.dataset.{}))"
    axes = "JSON.stringify([...document.querySelectorAll('.controls-a .axis-name')].map(n => n.textContent))"
    cell_a = "Number(document.querySelector('#panel-a').dataset.cell)"

    # 1. The first view: the main study's lesson; the study is the page's first control, each
    # named by its question, and the cell controls are the main study's axes.
    browser.open(url)
    assert browser.wait_drawn() == fragment(data, main["start"]["a"], main["start"]["b"], main)
    # the first control of the controls' column (beside it, the panels)
    assert browser.evaluate("document.querySelector('.sidebar').firstElementChild.id") == "study"
    titles = browser.evaluate(
        "JSON.stringify([...document.querySelectorAll('#study button')].map(b => b.textContent))"
    )
    assert json.loads(titles) == ["Which activations?", QUESTION]
    assert json.loads(browser.evaluate(pressed.format("#study", "block"))) == ["main"]
    assert json.loads(browser.evaluate(axes)) == ["dataset", "activation", "depth"]
    assert browser.evaluate(cell_a) in main["cells"]

    # 2. Choose the features study: its first view, its axes (dataset is fixed for it, features
    # varies), its cells; the fragment keeps the choice.
    browser.evaluate("document.querySelector('#study [data-block=features]').click()")
    start = features["start"]
    assert browser.wait_drawn() == fragment(data, start["a"], start["b"], features)
    assert json.loads(browser.evaluate(pressed.format("#study", "block"))) == ["features"]
    assert json.loads(browser.evaluate(axes)) == ["features", "activation", "depth"]
    assert browser.evaluate(cell_a) in features["cells"]
    info = browser.evaluate("document.querySelector('#study-info').textContent")
    assert f"{features['runs']} runs in {len(features['cells'])} cells" in info
    assert "dataset circles" in info

    # 3. A cell only this study has: the linear model on quadratic features, the best here.
    browser.evaluate("document.querySelector('#stop-compare').click()")
    browser.wait_drawn()
    browser.evaluate(
        "document.querySelector('.controls-a [data-axis=features][data-level=quadratic]').click()"
    )
    fragment_now = browser.wait_drawn()
    assert fragment_now.startswith("block=features&features=quadratic&activation=none")
    assert browser.evaluate(cell_a) not in main["cells"]
    assert browser.evaluate("document.querySelector('#a-acc').textContent") == "99.0%"
    assert "Best in this study on this data: 99.0%, features quadratic · none" in browser.evaluate(
        "document.querySelector('.yardsticks').textContent"
    )

    # 4. A link from before blocks (no block) opens the main study; a setting the main study
    # lacks snaps to its nearest cell there.
    old = "dataset=circles&activation=relu&depth=1&measure=test_acc&along=depth&curve=acc"
    browser.open(f"{url}#{old}")
    assert browser.wait_drawn() == f"block=main&{old}"
    browser.open(f"{url}#dataset=circles&features=quadratic&activation=none&depth=2")
    assert browser.wait_drawn() == (
        "block=main&dataset=circles&activation=none&depth=2&measure=test_acc&along=depth&curve=acc"
    )
    assert browser.errors == []


def test_a_study_with_no_stored_run_is_not_offered(tmp_path):
    """Results of a grid whose features block has not been trained yet: one study to show, so
    no choice (and the page is as for a grid without blocks); a manifest without blocks, or
    of an older format, is one block of every run."""
    main, raw, quadratic = two_block_runs()
    blocks = [
        ("main", "Which activations?", main["run_id"]),
        ("features", QUESTION, quadratic["run_id"]),
    ]
    data = explore_data(write_blocks(tmp_path / "partial", main, blocks))
    assert [(b["name"], b["title"], len(b["cells"])) for b in data["blocks"]] == [
        ("main", "Which activations?", len(data["cells"]))
    ]
    data = explore_data(write_blocks(tmp_path / "none", main, []))
    assert [(b["name"], b["runs"]) for b in data["blocks"]] == [("main", len(main))]
