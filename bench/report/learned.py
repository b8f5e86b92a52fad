"""What learnable activations learned: their trained parameters (runs.parquet's ``act_params``).

``act_params`` holds, per run, a JSON object keyed "<hidden layer>.<name>" (e.g. '{"0.slope":
0.21, "1.slope": 0.18}'); the report summarises each parameter name's value, averaged over a
run's hidden layers, against depth, with the intervals of every other summary.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.report.results import usable


def learned_values(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per usable run and parameter name: the run's axes, ``parameter`` and ``value``
    (the mean over its hidden layers). Empty when no run has learned parameters."""
    if "act_params" not in runs:
        return pd.DataFrame(columns=[*runs.columns, "parameter", "value"])
    runs = usable(runs)
    runs = runs[runs["act_params"].fillna("").astype(str).str.len() > 0]
    rows = []
    for index, text in runs["act_params"].items():
        per_name: dict[str, list[float]] = {}
        for key, value in json.loads(text).items():
            _, name = key.split(".", 1)  # "<layer>.<name>"
            per_name.setdefault(name, []).append(float(value))
        rows += [(index, name, float(np.mean(v))) for name, v in per_name.items()]
    if not rows:
        return pd.DataFrame(columns=[*runs.columns, "parameter", "value"])
    values = pd.DataFrame(rows, columns=["index", "parameter", "value"]).set_index("index")
    return runs.drop(columns=["act_params"]).join(values, how="inner").reset_index(drop=True)


def parameter_label(activation: str, parameter: str) -> str:
    """'learnable_prelu: slope' (a per-unit parameter's mean: 'slope (mean over units)')."""
    if parameter.endswith(".mean"):
        parameter = parameter.removesuffix(".mean") + " (mean over units)"
    return f"{activation}: {parameter}"
