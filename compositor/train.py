"""Train the CNP compositor (DDPG actor that picks where the frozen painter paints next).

    python compositor/train.py                                   # bundled photos, shipped painter
    python compositor/train.py --dataset DIR --painter runs/painter/painter_best.pt --episodes 2000
    python compositor/train.py --init checkpoints/cnp_compositor.pt --opencv   # fine-tune the shipped actor
    python compositor/train.py --reward piecewise                # the release's reward schedule
    python compositor/train.py --bc_weight 0 --teacher_prob 0    # plain DDPG, no imitation warm-start
    python compositor/train.py --init runs/imitation/compositor_best.pt --critic_warmup 200  # DDPG, from it

Writes into --output_dir: last.pt (resumable: actor, critic, targets, optimisers), best.pt and
compositor_best.pt (fp16 actor, what test.py loads; the shipped one is checkpoints/cnp_compositor.pt)
whenever the held-out validation MSE improves (the actor painting held-out crops through
compositor/paint.py; compositor/validation.py), compositor_last.pt, config.json and log.txt. Running the
same command again resumes. One process only: under torchrun it stops with one error line, because its
DDPG actor and critic are not synchronised across ranks (each rank would train its own).
"""

from __future__ import annotations

from common.cli import (
    ArgumentParser,
    add_common_args,
    config_kwargs,
    float_in,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output_dir,
    run_main,
    run_training,
)
from compositor.config import CompositorTrainConfig


def main(argv=None) -> int:
    d = CompositorTrainConfig
    parser = ArgumentParser(description=__doc__)
    add_common_args(parser, output_dir_default="runs/compositor")
    parser.add_argument("--dataset", default=None, help="folder of images (default: bundled photos)")
    parser.add_argument(
        "--painter", default="", help="painter checkpoint (default: checkpoints/cnp_painter.pt)"
    )
    parser.add_argument("--episodes", type=positive_int, default=d.episodes)
    parser.add_argument("--env_batch", type=positive_int, default=d.env_batch)
    parser.add_argument("--max_step", type=positive_int, default=d.max_step)
    parser.add_argument("--updates", type=positive_int, default=d.updates)
    parser.add_argument("--batch_size", type=positive_int, default=d.batch_size)
    parser.add_argument(
        "--calls", type=positive_int, default=d.calls, help="painter calls (x5 strokes) per region"
    )
    parser.add_argument("--warmup", type=positive_int, default=d.warmup, help="transitions before updates")
    parser.add_argument("--reward", choices=("paper", "piecewise", "plain"), default=d.reward)
    parser.add_argument("--noise", type=non_negative_float, default=d.noise)
    parser.add_argument("--teacher_prob", type=float_in(0.0, 1.0), default=d.teacher_prob)
    parser.add_argument("--bc_weight", type=non_negative_float, default=d.bc_weight)
    parser.add_argument("--lr_actor", type=positive_float, default=d.lr_actor, help="Adam lr of the actor")
    parser.add_argument("--lr_critic", type=positive_float, default=d.lr_critic, help="Adam lr of the critic")
    parser.add_argument(
        "--bc_episodes",
        type=non_negative_int,
        default=d.bc_episodes,
        help="first episodes with imitation-only actor updates",
    )
    parser.add_argument(
        "--teacher",
        choices=("lookahead", "greedy"),
        default=d.teacher,
        help="imitation teacher: mode 1's look-ahead picker (default) or the greedy one-call teacher",
    )
    parser.add_argument(
        "--critic_warmup",
        type=non_negative_int,
        default=d.critic_warmup,
        help="first DDPG updates train the critic only",
    )
    parser.add_argument(
        "--val_crops", type=positive_int, default=d.val_crops, help="held-out validation crops"
    )
    parser.add_argument(
        "--val_strokes", type=positive_int, default=d.val_strokes, help="strokes per validation crop"
    )
    parser.add_argument(
        "--max_minutes", type=non_negative_float, default=0.0, help="wall-time limit (0: none)"
    )
    parser.add_argument("--opencv", action="store_true", help="also train on the opencv-doc photos")
    parser.add_argument("--init", default="", help="actor checkpoint to start from (fresh runs only)")
    parser.add_argument(
        "--val_every", type=positive_int, default=d.val_every, help="episodes between validations"
    )
    parser.add_argument(
        "--patch",
        type=positive_int,
        default=128,
        help="actor input and environment size in pixels [paper: 128]",
    )
    args = parser.parse_args(argv)
    from common.device import require_single_process  # torch: after the flags
    from compositor.training import train_compositor

    require_single_process("compositor training", "its DDPG networks are not synchronised across ranks")
    cfg = d(**config_kwargs(d, vars(args)))
    cfg.model["patch"] = args.patch
    out_dir = prepare_output_dir(args.output_dir)
    run_training(lambda ctx, log: train_compositor(cfg, out_dir, ctx, log=log), args.device)
    return 0


if __name__ == "__main__":
    run_main(main)
