"""Performance, measured: the engine against the seed notebook's loop and scikit-learn.

    measure     `nonlinbench perf`: timings side by side in one run
    write       perf.md and perf.csv from those timings
    crosscheck  the engine's results against scikit-learn's MLPClassifier

`bench.perf.NAME` still finds what the former module `bench/perf.py` (now `measure`) defined.
"""

from bench import forward_names

__getattr__ = forward_names("bench.perf", "bench.perf.measure")
