"""The first screen: the lesson's setting by its stated rule, and the lead's plain sentences,
whose numbers are the runs' own at that setting."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import report_synthetic as synthetic  # noqa: E402

from bench.report import build_report, summaries  # noqa: E402
from bench.report.lead import lead_sentences  # noqa: E402
from bench.report.lesson import network_choice  # noqa: E402
from bench.report.results import Results, prepare_runs  # noqa: E402

FAST = {"n_resamples": 150}


def summarized(runs: pd.DataFrame):
    results = Results(Path("unused"), prepare_runs(runs), synthetic.make_curves(runs))
    return summaries(results, **FAST)


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip()) if s]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("lesson")
    results = synthetic.write_results(root / "results")
    summary = build_report(results, root / "report", explore_page="explore.html", **FAST)
    return {"summary": summary.read_text(), "runs": pd.read_parquet(results / "runs.parquet")}


def test_the_lesson_is_the_two_class_dataset_with_the_largest_gap_at_the_lowest_noise():
    runs = synthetic.make_runs()
    s = summarized(runs)
    lesson = s.lesson
    # by hand: per two-class dataset at its lowest noise, best activation mean - none's mean
    ok = runs[(runs["error"] == "") & ~runs["diverged"] & (runs["depth"] > 0)]
    ok = ok[ok["dataset"].isin(["circles", "blobs"]) & (ok["noise"] == 0.03)]
    means = ok.groupby(["dataset", "activation"])["test_acc"].mean().unstack()
    gaps = means.drop(columns="none").max(axis=1) - means["none"]
    assert lesson.dataset == gaps.idxmax() and lesson.noise == 0.03
    assert (lesson.depth, lesson.width) == (2, 10)  # the seed notebook's network, stored here


def test_the_network_shown_is_the_notebooks_else_the_median():
    assert network_choice({(2, 10), (1, 4)}) == (2, 10)
    assert network_choice({(1, 4), (1, 8), (2, 8), (4, 8), (4, 32)}) == (2, 8)


def test_the_leads_numbers_are_the_runs_means_at_the_setting_it_names():
    runs = synthetic.make_runs()
    lesson = summarized(runs).lesson
    at = runs[(runs["dataset"] == lesson.dataset) & (runs["noise"] == lesson.noise)
              & (runs["depth"] == lesson.depth) & (runs["width"] == lesson.width)
              & (runs["error"] == "") & ~runs["diverged"]]  # fmt: skip
    by_seed = at.groupby(["activation", "seed"])["test_acc"].mean().groupby("activation").mean()
    text = " ".join(lead_sentences(lesson))
    assert f"{100 * by_seed[lesson.control]:.1f}%" in text
    assert f"{100 * by_seed[lesson.best]:.1f}%" in text
    assert by_seed[lesson.best] == by_seed.drop(lesson.control).max()


def test_the_lead_is_a_few_short_plain_sentences():
    lesson = summarized(synthetic.make_runs()).lesson
    lead = lead_sentences(lesson)
    assert 3 <= len(lead) <= 5
    for sentence in lead:
        assert len(sentence.split()) <= 30, sentence
        assert "[" not in sentence  # no interval


def test_the_first_screen_shows_the_lead_figure_within_15_lines(report):
    lines = report["summary"].splitlines()
    figure = next(i for i, line in enumerate(lines) if line.startswith("![The lesson]"))
    assert figure < 15
    for sentence in sentences(" ".join(lines[1:figure])):
        assert len(sentence.split()) <= 30, sentence
    assert "[explore.html](explore.html)" in "\n".join(lines[: figure + 8])
    assert "## Why the network without an activation fails" in report["summary"]


def test_one_number_per_lead_sentence():
    lesson = summarized(synthetic.make_runs()).lesson
    for sentence in lead_sentences(lesson):
        # the network's size ("2 hidden layers of 10 units") is its name, not a finding
        named = re.sub(r"\d+ hidden layers? of \d+ units", "", sentence)
        assert len(re.findall(r"\d+\.\d+%", named)) <= 1, sentence


def test_no_two_class_dataset_no_lesson():
    runs = synthetic.make_runs(datasets=("spirals4",))
    assert summarized(runs).lesson is None
    assert np.isfinite(runs["test_acc"]).any()
