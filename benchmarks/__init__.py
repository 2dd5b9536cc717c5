"""Performance suite: `python -m benchmarks [name ...]`.

Every benchmark compares the service against a baseline measured in the same run and reports the ratio, so
the figures survive a shared, noisy machine. A benchmark is a module with ``run(args) -> list[Result]``
(see ``benchmarks.core``); adding one is writing that module and one line in ``BENCHMARKS``.
"""

import os
import sys
from pathlib import Path

# The model-training benchmarks measure the training function as it runs in Lambda, where its handler pins
# BLAS to one thread before numpy loads (see functions/model_training/app.py); numpy must not load first here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "segmentation"

# The shared layer is importable as it is in Lambda (/opt/python), and the repository for local_runtime.
for _path in (LAYER, ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

BENCHMARKS: dict[str, str] = {
    "rule_eval": "benchmarks.rule_eval",
    "event_cost": "benchmarks.event_cost",
    "cold_start": "benchmarks.cold_start",
    "boundary_path": "benchmarks.boundary_path",
    "channel_sync": "benchmarks.channel_sync",
    "scoring": "benchmarks.scoring",
    "bulk_eval": "benchmarks.bulk_eval",
    "bulk_memory": "benchmarks.bulk_memory",
    "model_fit": "benchmarks.model_fit",
    "clustering": "benchmarks.clustering",
    "imports": "benchmarks.imports",
}
"""Benchmark name -> module with ``run(args) -> list[Result]``, in the order ``python -m benchmarks`` runs them."""
