"""The grid, the first stage: a grid file becomes validated run specs.

    parse      grid file -> Grid: its run specs, activations resolved once (load_grid, GridError)
    axes       what each axis accepts, with one-line errors
    blocks     a grid file's [[block]] (studies) and [[exclude]] tables
    layers     per-layer stacks ("16 relu, 8 tanh"): parsing, labels, records
    counting   runs counted without making them (plan's and the size limit's count)
    notebook   the seed notebook's experiment: its setup (grids/seed.toml) and printed numbers

`bench.grid.NAME` still finds what the former module `bench/grid.py` (now `parse`) defined.
"""

from bench import forward_names

__getattr__ = forward_names("bench.grid", "bench.grid.parse")
