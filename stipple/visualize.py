"""Source / reference / prediction panels for samples of a stippling dataset.

    python stipple/visualize.py --data data/stipple_train --num_samples 5
    python stipple/visualize.py --data data/stipple_val --output results/stipple_vis --points 1024

Writes ``sample_<i>.png`` into --output (default results): the source image, the reference stipples of the
dataset and the network's stipples, side by side, each rendered with anti-aliased dots at the source size.
"""

from __future__ import annotations

from common.cli import ArgumentParser, positive_int, prepare_output_dir, run_main


def build_parser() -> ArgumentParser:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", default=None, help="default: checkpoints/stipple_net.pt")
    p.add_argument("--data", required=True, help="dataset folder with source/ and target/")
    p.add_argument("--output", default="results", help="folder for sample_<i>.png")
    p.add_argument("--num_samples", type=positive_int, default=5)
    p.add_argument(
        "--points", type=positive_int, default=1024, help="stipples the network draws (256..16384)"
    )
    p.add_argument("--device", default="auto")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch  # heavy imports after the flags: --help and flag errors stay fast

    from common.checkpoint import default_checkpoint
    from common.device import get_device
    from common.image_io import load_image, save_image, save_json
    from stipple.data import StippleDataset
    from stipple.evaluate import chamfer_to, render_stipples
    from stipple.inference import load_stipple_net, predict_stipples
    from stipple.stipplers import Stipples

    device = get_device(args.device)
    dataset = StippleDataset(args.data, max_points=1 << 20, subset=args.num_samples)
    model, _ = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"), device)
    out = prepare_output_dir(args.output)
    report = []
    for i in range(len(dataset)):
        name = dataset.names[i]
        source = load_image(dataset.sources[name])
        _, _, h, w = source.shape
        ref_pts = dataset._points(name)
        side = min(h, w)
        ref = Stipples(ref_pts, torch.full((len(ref_pts),), 1.2 / side), torch.zeros(len(ref_pts), 3))
        pred = predict_stipples(model, source, args.points)
        pred_vis = Stipples(pred.positions, torch.full((len(pred),), 1.2 / side), pred.colors)
        panel = torch.cat([source, render_stipples(ref, h, w), render_stipples(pred_vis, h, w)], 3)
        save_image(panel, out / f"sample_{i}.png")
        report.append(
            {
                "name": name,
                "reference_points": len(ref),
                "predicted_points": len(pred),
                "chamfer": chamfer_to(pred, ref),
            }
        )
    save_json(report, out / "samples.json")
    print(f"wrote {len(report)} panels to {out}")
    return 0


if __name__ == "__main__":
    run_main(main)
