"""Running, the stage between a grid and the engine: plan, schedule, store as it goes.

plan       specs -> groups -> chunks (tasks) that the engine trains in one program each
estimate   how long a plan will take, as a range
memory     what a chunk needs, and the memory each worker has
execute    one task -> engine -> the tables of one shard
backends   where tasks run: this process, joblib workers, a Dask cluster
runner     a whole run: lock, recover, plan, shards, merge, signals, manifest
"""
