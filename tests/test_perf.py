"""The GPU check script (scripts/gpu-check.sh) and the perf harness's choice of path."""

import subprocess
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_check_dry_run_lists_its_steps_within_ten_minutes(tmp_path):
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-check.sh"), "--dry-run"],
        capture_output=True, text=True, env={"OUT": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("[env]", "[cuda-tests]", "[perf]", "[default-grid]", "[default-report]"):
        assert step in out
    assert "bench perf --device cuda" in out and "bench run default --device cuda" in out
    assert f"would write under {tmp_path}" in out
    assert "time limits add up to" in out and not list(tmp_path.iterdir())  # nothing written


def test_the_gpu_check_refuses_an_unknown_argument():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-check.sh"), "--fast"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "unknown argument '--fast'" in result.stderr


def test_perf_trains_each_chunk_on_the_path_train_chunk_picks(monkeypatch):
    from bench.engine import fused
    from bench.perf.measure import trainer

    monkeypatch.delenv(fused.ENV, raising=False)
    cpu = torch.device("cpu")
    assert trainer("auto", cpu).__name__ == "train_fused"  # the seed setup: fused on a CPU
    assert trainer("generic", cpu).__name__ == "train_stacked"
    assert trainer("fused", cpu).__name__ == "train_fused"


def test_perf_md_reads_its_headline_goals_and_limits_from_the_measurements():
    import pandas as pd

    from bench.perf.write import render_markdown

    def row(label, method, models, seconds, **extra):
        base = dict(label=label, method=method, path="fused" if method == "engine" else "",
                    auto=method == "engine", models=models, width=10, depth=2, eval_every=1,
                    epochs_measured=1000, seconds_total=seconds * models,
                    seconds_per_model=seconds, speedup_vs_loop=1.2 / seconds,
                    speedup_vs_sklearn=0.3 / seconds, flops_per_model_epoch=8.84e5,
                    gflops_achieved=1.0, fraction_of_matmul_ceiling=0.4, device="cpu",
                    torch="2", threads=2, repeats=3)  # fmt: skip
        return {**base, **extra}

    table = pd.DataFrame([row("notebook loop", "loop", 1, 1.2), row("scikit-learn", "sklearn", 1, 0.3),
                          row("headline", "engine", 1024, 0.012)])  # fmt: skip
    profile = pd.DataFrame([
        dict(phase="forward", us_per_epoch=5.0, share=0.3, flops=2e5, gflops=40.0),
        dict(phase="backward", us_per_epoch=9.0, share=0.55, flops=4e5, gflops=44.0),
        dict(phase="whole epoch", us_per_epoch=16.0, share=1.0, flops=6e5, gflops=37.0),
    ])  # fmt: skip
    md = render_markdown(table, 60e9, torch.device("cpu"), None, False, profile)
    assert "## Headline: one process, N = 1024 models" in md
    assert "**100.0x** the notebook loop and **25.0x** scikit-learn" in md
    assert "| speedup_vs_loop" in md and "| >= 60" in md and "| >= 15" in md
    assert "## What limits it" in md and "Backward is the largest share (55%)" in md
