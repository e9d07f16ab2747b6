"""Train the neural FCN oil-stroke renderer: 5 shape parameters -> alpha, intensity (and edge) maps at 128.

    python compositor/train_renderer_FCN.py                          # 3 channels: alpha, intensity, edge
    python compositor/train_renderer_FCN.py --steps 500000 --batch_size 64 --output_dir runs/fcn
    python compositor/train_renderer_FCN.py --no_edge                # 2 channels (alpha, intensity)
    torchrun --nproc_per_node=2 compositor/train_renderer_FCN.py

It imitates the analytic ``oil`` renderer (common/renderers/oil.py) on random strokes
(x, y, w, h, theta) ~ U[0, 1]^5 with an L2 loss on every channel, Learning-to-Paint's schedule
(lr 1e-4, 1e-5 from 40 % of the steps, 1e-6 from 80 %: 200k/400k of LtP's 500k). The trainer is
``common.renderers.neural_training`` (shared with segpaint/train.py). Writes into --output_dir: last.pt
(resumable), best.pt, renderer_best.pt / renderer_last.pt (fp16 weights; shipped as
checkpoints/cnp_renderer_fcn.pt), config.json, log.txt; running again resumes (--fresh starts over).
"""

from __future__ import annotations

from common.cli import run_main


def main(argv=None) -> int:
    from common.fcn_config import fcn_main

    return fcn_main(argv, "oil", __file__, __doc__)


if __name__ == "__main__":
    run_main(main)
