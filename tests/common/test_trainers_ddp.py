"""Every trainer on TrainLoop, on 2 gloo ranks: a few steps, a resume, a wall-time stop (tests/multiproc.py).

Per trainer, one forked pair of processes runs ``main`` three times into one folder: ``--steps 2``, then
``--steps 3`` (resumes at 2), then a huge ``--steps`` with ``--max_minutes 0.02`` (resumes at 3, stops on
the wall-time limit on both ranks). Checked: parameters identical across ranks after each run, rank 1
writes nothing, one last.pt, step counts (``check_two_rank_runs``).
"""

from __future__ import annotations

import pytest

from tests.multiproc import check_two_rank_runs, run_trainer

FCN_ARGS = [
    "--batch_size",
    "2",
    "--val_size",
    "2",
    "--val_every",
    "2",
    "--save_every",
    "2",
    "--device",
    "cpu",
]


@pytest.mark.parametrize(
    "module",  # the same trainer (common.renderers.neural_training): the second script only under -m slow
    ["compositor.train_renderer_FCN", pytest.param("segpaint.train", marks=pytest.mark.slow)],
)
def test_fcn_renderer_trainers_on_two_ranks(tmp_path, module):
    out = tmp_path / "run"
    base = ["--output_dir", str(out), *FCN_ARGS]
    runs = [
        [*base, "--steps", "2"],
        [*base, "--steps", "3"],
        [*base, "--steps", "100000", "--max_minutes", "0.02"],
    ]
    ranks = run_trainer(module, runs, tmp_path / "record")
    check_two_rank_runs(ranks, out, [2, 3])
