"""Results, the stage that keeps what the engine trained: tables on disk, read back.

store    result tables (runs, curves, surfaces, weights): one writer, atomic shards, merge,
         recovery after a crash
blocks   which block (study) of a grid each stored run belongs to
pick     one stored run, by its id or by axis filters (--run, --where)
export   a stored run -> a standalone TorchScript model and its state dict
"""
