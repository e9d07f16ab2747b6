"""Figure: radially averaged power spectrum (RAPS) and anisotropy of each method's points on constant gray.

    python scripts/figures/stipple_spectrum.py
    python scripts/figures/stipple_spectrum.py --points 1024 --gray 0.5 --runs 5 --output_dir results/figures

Stipples a constant gray image with WVS, LBG and the network (``--runs`` seeds; the network's seed picks the
window of its blue-noise slot pattern), plus a Poisson (uniform random) reference, and plots the mean
exact periodogram's RAPS (frequency in units of the blue-noise peak sqrt(N)) and anisotropy in dB
(Lagae & Dutre 2008). Writes ``stipple_spectrum.png`` and prints the low-frequency power of each method.
"""

from __future__ import annotations

import math

import torch

from common.checkpoint import default_checkpoint
from common.cli import ArgumentParser, float_in, positive_int, prepare_output_dir, run_main
from common.losses.spectrum import half_plane_frequencies, point_periodogram, radial_average
from stipple.inference import load_stipple_net
from stipple.run import stipple_one


def main(argv=None) -> int:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--points", type=positive_int, default=1024)
    p.add_argument("--gray", type=float_in(0.0, 0.95), default=0.5)
    p.add_argument("--runs", type=positive_int, default=3)
    p.add_argument("--size", type=positive_int, default=256)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--output_dir", default="results/figures")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = prepare_output_dir(args.output_dir)
    model, _ = load_stipple_net(args.checkpoint or default_checkpoint("stipple_net.pt"))
    kmax = int(2 * math.sqrt(args.points))
    freqs = half_plane_frequencies(kmax)
    curves = {}
    for method in ("poisson", "wvs", "lbg", "net"):
        powers = []
        for run in range(args.runs):
            image = torch.full((1, 3, args.size, args.size), args.gray)
            if method == "poisson":
                pts = torch.rand(args.points, 2, generator=torch.Generator().manual_seed(run))
            else:
                st, _ = stipple_one(
                    method, image, args.points, 50, 1.0, model, torch.Generator().manual_seed(run)
                )
                pts = st.positions
            powers.append(point_periodogram(pts[None].double(), kmax=kmax, freqs=freqs.double())[0])
        mean, var = radial_average(torch.cat(powers).mean(0, keepdim=True), freqs.double(), kmax)
        curves[method] = (
            mean[0],
            10 * torch.log10(var[0].clamp(min=1e-12) / mean[0].square().clamp(min=1e-12)),
        )
        low = float(mean[0, : int(0.5 * math.sqrt(args.points))].mean())
        print(f"{method:8s} mean RAPS below 0.5 sqrt(N): {low:.3f} (Poisson = 1)")
    f = (torch.arange(kmax) + 1.5) / math.sqrt(args.points)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    for method, (raps_m, aniso) in curves.items():
        a1.plot(f, raps_m, label=method)
        a2.plot(f, aniso, label=method)
    a1.set(xlabel="|k| / sqrt(N)", ylabel="RAPS", title=f"RAPS, constant gray {args.gray}, N={args.points}")
    a2.set(xlabel="|k| / sqrt(N)", ylabel="anisotropy (dB)", title="anisotropy")
    a1.legend()
    fig.tight_layout()
    fig.savefig(out / "stipple_spectrum.png", dpi=100)
    print(f"wrote {out / 'stipple_spectrum.png'}")
    return 0


if __name__ == "__main__":
    run_main(main)
