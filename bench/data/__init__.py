"""Data, the stage every run starts from: what a run trains and is tested on.

    datasets     the datasets by name: generate or load, split, standardise, label noise;
                 a run's data
    generators   the toy generators (circles, spheres, moons, xor, spirals, ..., sine, gauss)
    real         the real datasets scikit-learn ships (iris, wine, breast_cancer, digits,
                 diabetes), and the standardisation fitted on the training rows
    csv_files    a user's CSV file as a dataset
    features     feature maps applied to the inputs (quadratic, sine, playground)
    ceiling      the yardsticks on the same test points: chance and the best possible (Bayes;
                 exact for spheres)
    straight_line  the best straight line: the accuracy-best affine classifier, the most a
                 network without an activation can score
    references   where no Bayes rule is known: a linear and a strong (tuned standard model)
                 reference

`bench.data.NAME` still finds what the former module `bench/data.py` (now `datasets`) defined.
"""

from bench import forward_names

__getattr__ = forward_names("bench.data", "bench.data.datasets")
