"""Inpainting: the law of the missing coordinate given the observed one,
against the exact conditional, for DiffusionMixtureSampler.impute's variants
and the Gaussian mixture's conditional (DDPMGaussianMixture.impute).

1. ``ring``: a blurred unit ring (``make_blurred_ring``, blur 0.05, 8 000
   training rows), ``x_1`` observed at a few values, ``x_2`` drawn. The exact
   conditional is known up to a one-dimensional quadrature:
   ``p(x_2 | x_1) = int p(th | x_1) N(x_2; sin th, s^2) d th`` with
   ``p(th | x_1)`` proportional to ``N(x_1; cos th, s^2)`` (the blur is
   independent per coordinate), so each draw is tested by the one-sample
   Kolmogorov-Smirnov test against its exact CDF (a two-sample test against
   an infinite reference sample).
2. ``gmm``: a 2-D mixture of three full-covariance Gaussians, the exact
   conditional of ``x_2`` given ``x_1`` in closed form (a 1-D mixture).

Variants of the sampler (``sklearn_ddpm_gmm._sampler._inpainting``):
replacement with 5 repetitions of each step (RePaint, the default of
``impute``) or 1, and the baseline mixture conditioned exactly with the
learned correction read at the noised observation ("conditioned"). A model
with no correction (``degree="auto"`` may choose none) draws from its
mixture's exact conditional in every variant. Against DDPMGaussianMixture
with as many full components, and with as many as the sampler's cells.

    OMP_NUM_THREADS=1 python benchmarks/bench_inpainting.py [--seeds 3] [--draws 4000]
                                                             [--sets ring,gmm] [--degree auto]
"""

import argparse
import time

import numpy as np
from scipy.special import ndtr
from scipy.stats import kstest

from sklearn_ddpm_gmm import DDPMGaussianMixture, DiffusionMixtureSampler
from sklearn_ddpm_gmm._sampler._inpainting import inpaint
from sklearn_ddpm_gmm.datasets import make_blurred_ring

BLUR = 0.05
OBSERVED = (0.0, 0.5, 0.9)
GRID = np.linspace(0.0, 2 * np.pi, 20001)[:-1]
GMM = dict(weights=np.array([0.5, 0.3, 0.2]),
           means=np.array([[0.0, 0.0], [2.0, 3.0], [-2.0, 2.0]]),
           covariances=np.array([[[1.0, 0.8], [0.8, 1.0]], [[0.5, -0.3], [-0.3, 1.0]],
                                 [[0.3, 0.0], [0.0, 0.3]]]))


def ring_cdf(a):
    """Exact CDF of x_2 given x_1 = a on the blurred unit ring."""
    w = np.exp(-0.5 * ((a - np.cos(GRID)) / BLUR) ** 2)
    w /= w.sum()
    return lambda x: ndtr((np.asarray(x)[..., None] - np.sin(GRID)) / BLUR) @ w


def gmm_cdf(a):
    """Exact CDF of x_2 given x_1 = a under GMM."""
    pi, mu, C = GMM["weights"], GMM["means"], GMM["covariances"]
    var1 = C[:, 0, 0]
    logw = np.log(pi) - 0.5 * np.log(var1) - 0.5 * (a - mu[:, 0]) ** 2 / var1
    w = np.exp(logw - logw.max())
    w /= w.sum()
    m = mu[:, 1] + C[:, 1, 0] / var1 * (a - mu[:, 0])
    s = np.sqrt(C[:, 1, 1] - C[:, 1, 0] ** 2 / var1)
    return lambda x: ndtr((np.asarray(x)[..., None] - m) / s) @ w


def gmm_sample(n, rng):
    k = rng.choice(3, size=n, p=GMM["weights"])
    L = np.linalg.cholesky(GMM["covariances"])
    return GMM["means"][k] + np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, 2)))


def variants(sampler, mixtures):
    def ours(**kwargs):
        def fill(X, rng):
            Z = (X - sampler.data_mean_) / sampler.data_scale_
            sigmas = sampler.score_model_.schedule.sample_sigmas(sampler.n_sample_steps)
            out = inpaint(sampler.score_model_, Z, sigmas, random_state=rng, **kwargs)
            return sampler.data_mean_ + sampler.data_scale_ * out
        return fill
    out = {"sampler RePaint U=5": ours(),
           "sampler RePaint U=1": ours(resample=1),
           "sampler conditioned": ours(method="conditioned")}
    for name, gm in mixtures.items():
        out[name] = lambda X, rng, gm=gm: gm.impute(X, strategy="sample", random_state=rng)
    return out


def run(name, train, cdf_of, observed, K, seeds, n_draws, degree="auto"):
    results = {}
    for seed in range(seeds):
        X = train(seed)
        sampler = DiffusionMixtureSampler(K, degree=degree, random_state=seed).fit(X)
        n_cells = len(sampler.score_model_.centres)
        mixtures = {f"mixture K={K}": DDPMGaussianMixture(K, covariance_type="full",
                                                          random_state=seed).fit(X)}
        if n_cells != K:
            mixtures[f"mixture K={n_cells}"] = DDPMGaussianMixture(
                n_cells, covariance_type="full", random_state=seed).fit(X)
        for label, fill in variants(sampler, mixtures).items():
            for a in observed:
                rows = np.tile([[a, np.nan]], (n_draws, 1))
                tic = time.perf_counter()
                drawn = fill(rows, np.random.RandomState(1000 + seed))[:, 1]
                seconds = time.perf_counter() - tic
                test = kstest(drawn, cdf_of(a))
                results.setdefault((label, a), []).append(
                    (test.statistic, test.pvalue, seconds))
    print(f"\n{name}, degree={degree}: KS distance to the exact conditional of x_2 given x_1 = a "
          f"({n_draws} draws, mean over {seeds} seeds; min p-value; seconds)")
    print(f"{'variant':26s}" + "".join(f"  a={a:<22}" for a in observed))
    labels = dict.fromkeys(label for label, _ in results)
    for label in labels:
        cells = []
        for a in observed:
            r = np.array(results[label, a])
            cells.append(f"{r[:, 0].mean():.4f} p>={r[:, 1].min():.1e} {r[:, 2].mean():4.1f}s")
        print(f"{label:26s}" + "".join(f"  {c:24s}" for c in cells))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--sets", default="ring,gmm")
    parser.add_argument("--degree", default="auto")
    args = parser.parse_args()
    sets = args.sets.split(",")
    degree = args.degree if args.degree == "auto" else int(args.degree)
    if "ring" in sets:
        run("ring", lambda seed: make_blurred_ring(8000, noise=BLUR, random_state=seed),
            ring_cdf, OBSERVED, 4, args.seeds, args.draws, degree)
    if "gmm" in sets:
        run("gmm", lambda seed: gmm_sample(8000, np.random.default_rng(seed)),
            gmm_cdf, (-1.0, 0.0, 1.5), 3, args.seeds, args.draws, degree)


if __name__ == "__main__":
    main()
