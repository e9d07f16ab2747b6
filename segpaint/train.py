"""Train the neural bezier13 renderer (Learning to Paint's FCN) to imitate the analytic renderer.

    python segpaint/train.py --output_dir runs/segpaint_renderer --steps 500000
    python segpaint/train.py --output_dir runs/r --steps 2000 --batch_size 64 --max_minutes 10
    torchrun --nproc_per_node=2 segpaint/train.py --output_dir runs/r          # DDP
    python segpaint/train.py --output_dir runs/r --export checkpoints/segpaint_renderer_bezier13.pt

Data: uniform random strokes in [0, 1]^10 (LtP's renderer training) with t0 = t2 = 1, targets from
``common.renderers.bezier13.bezier13_alpha`` on a 128 x 128 patch. Loss: MSE. Adam, lr 1e-4, divided by 10 at
40% and 80% of --steps (LtP: 1e-4 -> 1e-5 at 200k -> 1e-6 at 400k of 500k). The trainer is
``common.renderers.neural_training`` (shared with compositor/train_renderer_FCN.py): the run resumes from
``<output_dir>/last.pt``, keeps the best held-out MSE in ``best.pt`` / ``renderer_best.pt`` and writes its
config to ``<output_dir>/config.json``; ``--export`` copies the best fp16 weights (the file
``--renderer neural`` loads) at the end.
"""

from __future__ import annotations

from common.cli import run_main


def main(argv=None) -> int:
    from common.fcn_config import fcn_main

    return fcn_main(argv, "bezier13", __file__, __doc__)


if __name__ == "__main__":
    run_main(main)
