"""Data, the stage every run starts from: what a run trains and is tested on.

    datasets     the built-in datasets by name: generate, split, label noise; a run's data
    generators   the toy generators (circles, moons, xor, spirals, ..., sine, gauss)
    csv_files    a user's CSV file as a dataset
    features     feature maps applied to the inputs (quadratic, sine, playground)
    ceiling      the yardsticks on the same test points: chance and the best possible (Bayes)

`bench.data.NAME` still finds what the former module `bench/data.py` (now `datasets`) defined.
"""

from bench import forward_names

__getattr__ = forward_names("bench.data", "bench.data.datasets")
