"""DiffusionMixtureSampler against a tuned KernelDensity and GaussianMixture on blurred curves.

Data: points on a curve (uniform in its parameter) blurred by isotropic
Gaussian noise. Each set is a fine quadrature of its curve (4 000 nodes), so
the exact posterior mean ``E[x0 | x0 + sigma z]`` is known at every noise
level. Two groups:

- tuning sets, on which the sampler's settings were chosen: a thin ring
  (radius 3, noise 0.12), two moons (noise 0.05), and a closed curve of three
  random harmonics in 10-D (noise 0.05);
- validation sets, never used to choose any setting: an open spiral in 2-D, a
  trefoil knot in 3-D, a (2, 3) torus knot mapped into 12-D by a random
  orthonormal map, and three segments in 5-D.

For each set and seed: 8 000 training rows, 5 000 samples of each model and
four draws of 5 000 fresh rows of the law, energy distance (V-statistic) to
5 000 held-out rows, held-out mean log-likelihood on 2 000 other rows, and fit
times: DiffusionMixtureSampler (default settings),
GaussianMixture(covariance_type="full") with the same K, KernelDensity with its
bandwidth chosen by 3-fold GridSearchCV over 8 values (the whole search is
timed); on 2-D sets at the first seed, the integral of the sampler's density
over a grid (it is normalised only approximately). Then mean +- sd over seeds,
the paired difference ED(sampler) - ED(KDE) (same rows and seed) averaged over
seeds with its standard error (a gap within about two of them is noise), and
the bar of issue 18.

The energy distance of two independent samples of one law is not 0: the
V-statistic's mean is ``E|X - X'| (1/n + 1/m)`` (the floor, printed), and at
5 000 rows its spread from draw to draw (sd 0.7-0.8x the floor on the ring) is
larger than most gaps between the models. ``--large N`` (20 000 by default, 0
to skip) repeats the comparison with N samples of each model against N other
held-out rows, less the floor: an unbiased estimate of the population energy
distance, whose noise falls as 1 / N.

``--diagnose`` prints, for the tuning sets at seed 0, what limits accuracy:
at each trained level, the held-out squared denoising error of the exact
posterior mean (the floor), and the excess over it of the sampler's denoiser
and of its mixture baseline; and the energy distance of samples drawn by
``sample``'s ancestral steps with the clean point drawn from the law's exact
posterior above a cut-off level and from the model's below it (same starting
noise and random numbers, so the differences are paired).

``--n-train N`` changes the training rows (8 000): the efficiency bound
``E|X - X'| / n_train`` (see ``efficiency_bound``), printed beside the
excesses, is the least population energy distance any estimator from that
many rows can expect, and the bar's ``bound`` clauses test the sampler
against it.

    OMP_NUM_THREADS=1 python benchmarks/bench_sampler.py [--seeds 5] [--sets ring,moons] [--large 20000]
    OMP_NUM_THREADS=1 python benchmarks/bench_sampler.py --diagnose

Single-threaded on purpose (a shared 2-core machine).
"""

import argparse
import time
import warnings

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from sklearn_ddpm_gmm import DiffusionMixtureSampler
from sklearn_ddpm_gmm._sampler._mixture_denoiser import mixture_denoise
from sklearn_ddpm_gmm._sampler._noise_schedule import sigma_from_t, t_from_sigma
from sklearn_ddpm_gmm._sampler._poly_denoiser import denoise, draw_clean_point
from sklearn_ddpm_gmm._sampler._reverse import ancestral_sample
from sklearn_ddpm_gmm.datasets import make_segments

N_TRAIN, N_HELD_OUT, N_SAMPLES, N_LIKELIHOOD = 8000, 5000, 5000, 2000
# Fresh draws of the law per seed: their energy distances are the floor's spread.
N_FRESH = 4
# Samples and held-out rows of the low-noise comparison (--large).
N_LARGE = 20000
N_NODES = 4000
# KDE bandwidths, relative to the data's overall scale (RMS of the feature sds).
BANDWIDTHS = np.geomspace(0.01, 0.3, 8)


class BlurredCurve:
    """Uniform law on quadrature nodes of a curve, blurred by ``N(0, noise^2 I)``."""

    def __init__(self, nodes, noise):
        self.nodes, self.noise = np.asarray(nodes, dtype=float), float(noise)

    def draw(self, n, seed):
        rng = np.random.RandomState(seed)
        X = self.nodes[rng.randint(len(self.nodes), size=n)]
        return X + self.noise * rng.standard_normal(X.shape)

    def _node_posteriors(self, y, v):
        """``P(node | y)`` for ``y = node + N(0, v I)``, shape (len(y), n_nodes)."""
        logw = -cdist(y, self.nodes, "sqeuclidean") / (2 * v)
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        return w / w.sum(axis=1, keepdims=True)

    def denoise(self, Y, sigma, chunk=1000):
        """Exact ``E[x0 | y]`` for ``y = x0 + sigma z``, shape (n, d)."""
        v = self.noise ** 2 + sigma ** 2
        shrink = self.noise ** 2 / v
        out = np.empty_like(Y)
        for start in range(0, len(Y), chunk):
            y = Y[start:start + chunk]
            w = self._node_posteriors(y, v)
            out[start:start + chunk] = (1 - shrink) * (w @ self.nodes) + shrink * y
        return out

    def draw_clean(self, Y, sigma, rng, chunk=1000):
        """A draw of ``x0`` given ``y = x0 + sigma z``, shape (n, d).

        A node from its posterior, then the blur's Gaussian posterior given
        that node: mean ``node + (noise^2 / v)(y - node)``, variance
        ``noise^2 sigma^2 / v`` per feature, ``v = noise^2 + sigma^2``.
        """
        v = self.noise ** 2 + sigma ** 2
        out = np.empty_like(Y)
        for start in range(0, len(Y), chunk):
            y = Y[start:start + chunk]
            cum = np.cumsum(self._node_posteriors(y, v), axis=1)
            pick = (cum < rng.uniform(size=(len(y), 1)) * cum[:, -1:]).sum(axis=1)
            node = self.nodes[np.minimum(pick, len(self.nodes) - 1)]
            out[start:start + chunk] = (node + self.noise ** 2 / v * (y - node)
                                        + self.noise * sigma / np.sqrt(v)
                                        * rng.standard_normal(y.shape))
        return out


def _angles(n, closed=True, stop=2 * np.pi):
    return np.linspace(0.0, stop, n, endpoint=not closed)


def ring():
    th = _angles(N_NODES)
    return BlurredCurve(3.0 * np.c_[np.cos(th), np.sin(th)], 0.12)


def moons():
    th = np.linspace(0.0, np.pi, N_NODES // 2)
    return BlurredCurve(np.r_[np.c_[np.cos(th), np.sin(th)],
                              np.c_[1 - np.cos(th), 0.5 - np.sin(th)]], 0.05)


def fourier_curve(n_features=10, harmonics=3, noise=0.05, seed=0):
    """Closed curve ``sum_k A_k cos(k th) + B_k sin(k th)``, random A, B in R^d."""
    rng = np.random.RandomState(seed)
    th = _angles(N_NODES)
    coef = rng.standard_normal((harmonics, 2, n_features)) / np.arange(1, harmonics + 1)[:, None, None]
    nodes = sum(np.outer(np.cos((k + 1) * th), coef[k, 0])
                + np.outer(np.sin((k + 1) * th), coef[k, 1]) for k in range(harmonics))
    return BlurredCurve(nodes, noise)


def spiral():
    th = np.linspace(np.pi / 2, 4 * np.pi, N_NODES)
    # Uniform in arc length, not in angle: resample the nodes by cumulative length.
    raw = 0.35 * th[:, None] * np.c_[np.cos(th), np.sin(th)]
    length = np.r_[0, np.cumsum(np.linalg.norm(np.diff(raw, axis=0), axis=1))]
    s = np.linspace(0, length[-1], N_NODES)
    nodes = np.c_[np.interp(s, length, raw[:, 0]), np.interp(s, length, raw[:, 1])]
    return BlurredCurve(nodes, 0.08)


def trefoil():
    th = _angles(N_NODES)
    nodes = np.c_[np.sin(th) + 2 * np.sin(2 * th), np.cos(th) - 2 * np.cos(2 * th),
                  -np.sin(3 * th)]
    return BlurredCurve(nodes, 0.1)


def torus_knot_12d():
    th = _angles(N_NODES)
    r = 2 + np.cos(3 * th)
    knot = np.c_[r * np.cos(2 * th), r * np.sin(2 * th), -np.sin(3 * th)]
    Q = ortho_group.rvs(12, random_state=7)[:3]
    return BlurredCurve(knot @ Q, 0.06)


def segments_5d():
    ends = make_segments(random_state=100)
    u = np.linspace(0, 1, N_NODES // 3)[:, None]
    return BlurredCurve(np.concatenate([(1 - u) * a + u * b for a, b in ends]), 0.05)


# (name, generator, K, group)
SETS = [
    ("ring", ring, 4, "tuning"),
    ("moons", moons, 4, "tuning"),
    ("curve10", fourier_curve, 4, "tuning"),
    ("spiral", spiral, 4, "validation"),
    ("trefoil3", trefoil, 4, "validation"),
    ("knot12", torus_knot_12d, 4, "validation"),
    ("segments5", segments_5d, 3, "validation"),
]


def _mean_distance(A, B, chunk=2000):
    return sum(cdist(A[i:i + chunk], B).sum() for i in range(0, len(A), chunk)) / (
        len(A) * len(B))


class HeldOutEnergy:
    """Energy distance (V-statistic) to one held-out set, its self-term computed once.

    Equal to ``sklearn_ddpm_gmm.metrics.energy_distance(X, held_out)``.
    """

    def __init__(self, held_out):
        self.held_out = held_out
        self.self_term = _mean_distance(held_out, held_out)
        m = len(held_out)
        # E|X - X'| of the law, unbiased (the V-statistic counts m zeros).
        self.mean_pair_distance = self.self_term * m / (m - 1)

    def __call__(self, X):
        return (2 * _mean_distance(X, self.held_out) - _mean_distance(X, X)
                - self.self_term)

    def floor(self, n):
        """Expected value for ``n`` fresh rows of the law: ``E|X - X'| (1/n + 1/m)``.

        The V-statistic's diagonal zeros make its mean positive even for two
        samples of one law; an estimate minus this floor is unbiased for the
        population energy distance.
        """
        return self.mean_pair_distance * (1.0 / n + 1.0 / len(self.held_out))

    def excess(self, X):
        """Energy distance less the floor: unbiased for the population distance."""
        return self(X) - self.floor(len(X))


def efficiency_bound(energy, n_train):
    """``E|X - X'| / n_train``: the least population energy distance to expect.

    The energy distance is ``c_d * integral |phi_P - phi_Q|^2 / |w|^(d+1) dw``
    (phi: characteristic functions). The training rows' empirical law P_n
    has ``E|phi_Pn(w) - phi_P(w)|^2 = (1 - |phi_P(w)|^2) / n`` at each w, so
    ``E ED(P_n, P) = E|X - X'| / n``; P_n is the efficient estimator of
    every phi_P(w), and by the local asymptotic minimax theorem (van der
    Vaart, Asymptotic Statistics, 25.21) no estimator from n rows does
    better uniformly near P. Smoothing (a KDE, a mixture) can only trade
    the high frequencies, which the metric's weight 1 / |w|^(d+1) makes
    small. ``energy`` supplies the estimate of ``E|X - X'|``.
    """
    return energy.mean_pair_distance / n_train


def _timed(fn):
    tic = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tic


def grid_mass(model, X, n_grid=150):
    """Integral of exp(score_samples) over a grid covering the 2-D data (1 if normalised)."""
    low, high = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    xs, ys = np.linspace(low[0], high[0], n_grid), np.linspace(low[1], high[1], n_grid)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    return float(np.exp(model.score_samples(grid)).sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]))


def run_case(curve, K, seed, n_large=N_LARGE, n_train=N_TRAIN):
    X = curve.draw(n_train, seed)
    held_out = curve.draw(N_HELD_OUT, 1000 + seed)
    X_ll = curve.draw(N_LIKELIHOOD, 2000 + seed)
    energy = HeldOutEnergy(held_out)
    scale = np.sqrt(X.var(axis=0).mean())

    model, t_dms = _timed(lambda: DiffusionMixtureSampler(K, random_state=seed).fit(X))
    gm, t_gm = _timed(lambda: GaussianMixture(K, covariance_type="full",
                                              random_state=seed).fit(X))
    search, t_kde = _timed(lambda: GridSearchCV(
        KernelDensity(), {"bandwidth": scale * BANDWIDTHS}, cv=3).fit(X))
    kde = search.best_estimator_
    edge = search.best_index_ in (0, len(BANDWIDTHS) - 1)
    row = {
        "ed_dms": energy(model.sample(N_SAMPLES, random_state=seed)[0]),
        "ed_gm": energy(gm.sample(N_SAMPLES)[0]),
        "ed_kde": energy(kde.sample(N_SAMPLES, random_state=seed)),
        # Draws 3000 + seed + 10 j: seeds of no other draw here.
        "ed_fresh": [energy(curve.draw(N_SAMPLES, 3000 + seed + 10 * j))
                     for j in range(N_FRESH)],
        "ed_floor": energy.floor(N_SAMPLES),
        "ed_bound": energy.floor(N_SAMPLES) + efficiency_bound(energy, n_train),
        "pair_distance": energy.mean_pair_distance,
        "n_train": n_train,
        "ll_dms": model.score(X_ll),
        "ll_gm": gm.score(X_ll),
        "ll_kde": kde.score(X_ll) / len(X_ll),
        "t_dms": t_dms, "t_gm": t_gm, "t_kde": t_kde,
        "bandwidth": kde.bandwidth / scale, "edge": edge,
        # The sampler's density is normalised only approximately: check it
        # where a grid is cheap (2-D, first seed).
        "mass": grid_mass(model, X) if X.shape[1] == 2 and seed == 0 else np.nan,
    }
    if n_large:
        # The same models against n_large other held-out rows with n_large
        # samples each, less the floor: the noise of the 5 000-row figures is
        # mostly the floor's spread, which falls as 1 / n.
        large = HeldOutEnergy(curve.draw(n_large, 4000 + seed))
        row.update({
            "ex_dms": large.excess(model.sample(n_large, random_state=seed)[0]),
            "ex_kde": large.excess(kde.sample(n_large, random_state=seed)),
            "ex_gm": large.excess(gm.sample(n_large)[0]),
            "ex_fresh": large.excess(curve.draw(n_large, 5000 + seed)),
            "ex_bound": efficiency_bound(large, n_train),
            "n_large": n_large,
        })
    return row


KEYS = ("ed_dms", "ed_kde", "ed_gm", "ed_fresh", "ll_dms", "ll_kde", "ll_gm",
        "t_dms", "t_kde", "t_gm")
LARGE_KEYS = ("ex_dms", "ex_kde", "ex_gm", "ex_fresh", "ex_bound")


def _value(row, key):
    """A row's figure; the fresh draws' energy distances averaged."""
    return float(np.mean(row[key]))


def _format(key, value):
    if key.startswith(("ed", "ex")):
        return f"{1e4 * value:7.2f}"
    if key.startswith("ll"):
        return f"{value:8.4f}"
    return f"{value:6.2f}"


def print_header(n_large):
    large = f" | excess x 1e-4 at {n_large}: DMS KDE GM fresh bound" if n_large else ""
    print(f"{'set / seed':<22} | energy distance x 1e-4: {'DMS':>5} {'KDE':>7} {'GM':>7} "
          f"{'fresh':>7} {'floor':>7} | held-out ll: {'DMS':>5} {'KDE':>8} {'GM':>8} | fit s: "
          f"DMS KDE-search GM | KDE bw/scale | DMS mass{large}")


def print_row(label, row):
    ed = " ".join(_format(k, _value(row, k)) for k in KEYS[:4])
    cells = [f"{ed} {_format('ed', row['ed_floor'])}",
             " ".join(_format(k, row[k]) for k in KEYS[4:7]),
             " ".join(_format(k, row[k]) for k in KEYS[7:])]
    flag = " (grid edge)" if row["edge"] else ""
    mass = f" | {row['mass']:.4f}" if np.isfinite(row["mass"]) else " |"
    large = (" | " + " ".join(_format(k, row[k]) for k in LARGE_KEYS)
             if "ex_dms" in row else "")
    print(f"{label:<22} | {cells[0]} | {cells[1]} | {cells[2]} | {row['bandwidth']:.3f}{flag}"
          f"{mass}{large}", flush=True)


def _paired(a, b):
    """Mean of ``a - b`` over seeds (x 1e-4) and its standard error."""
    diff = 1e4 * (a - b)
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
    return diff.mean(), se


def _within(a, b):
    """Whether mean(a) exceeds mean(b) by at most two standard errors (unpaired)."""
    if len(a) < 2 or len(b) < 2:
        return bool(a.mean() <= b.mean())
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return bool(a.mean() - b.mean() <= 2.0 * se)


def _near(a, bound):
    """Whether mean(a - bound) is at most two standard errors above 0."""
    diff = a - bound
    if len(diff) < 2:
        return bool(diff.mean() <= 0)
    return bool(diff.mean() <= 2.0 * diff.std(ddof=1) / np.sqrt(len(diff)))


def print_summary(rows_by_set):
    has_large = all("ex_dms" in r for rows in rows_by_set.values() for r in rows)
    print("\nMean +- sd over seeds (energy distance x 1e-4, fresh: all fresh draws; "
          "log-likelihood in nats; fit times in seconds). DMS-KDE: mean over seeds of the "
          "paired difference +- its standard error. floor: the expected energy distance of "
          f"{N_SAMPLES} fresh rows, E|X - X'| (1/n + 1/m).")
    print(f"{'set':<10} {'group':<10} | {'ED DMS':>12} {'ED KDE':>12} {'ED GM':>12} "
          f"{'ED fresh':>12} {'floor':>6} | {'DMS/KDE':>7} {'DMS-KDE':>12} | {'ll DMS':>16} "
          f"{'ll KDE':>16} {'ll GM':>16} | {'fit DMS':>7} {'KDE srch':>8} {'GM':>6}")
    bars = []
    for (name, group), rows in rows_by_set.items():
        v = {k: np.array([_value(r, k) for r in rows]) for k in KEYS}
        fresh_all = np.concatenate([r["ed_fresh"] for r in rows])
        floor = np.mean([r["ed_floor"] for r in rows])
        ed = " ".join(f"{1e4 * x.mean():6.2f}+-{1e4 * x.std():<4.2f}"
                      for x in (v["ed_dms"], v["ed_kde"], v["ed_gm"], fresh_all))
        ll = " ".join(f"{v[k].mean():8.4f}+-{v[k].std():.4f}" for k in KEYS[4:7])
        times = " ".join(f"{v[k].mean():7.2f}" for k in KEYS[7:])
        ratio = v["ed_dms"].mean() / v["ed_kde"].mean()
        diff, se = _paired(v["ed_dms"], v["ed_kde"])
        print(f"{name:<10} {group:<10} | {ed} {1e4 * floor:6.2f} | {ratio:7.2f} "
              f"{diff:+6.2f}+-{se:<4.2f} | {ll} | {times}", flush=True)
        checks = {
            # Within the floor: no more than two standard errors above fresh rows'.
            "ED<=0.8KDE|fresh": ratio <= 0.8 or _within(v["ed_dms"], fresh_all),
            "ll>=KDE": v["ll_dms"].mean() >= v["ll_kde"].mean(),
            "ED<GM": v["ed_dms"].mean() < v["ed_gm"].mean(),
            "time<=KDE": v["t_dms"].mean() <= v["t_kde"].mean(),
            # At the efficiency bound: within two standard errors of the
            # floor plus E|X - X'| / n_train (see efficiency_bound).
            "ED<=bound": _near(v["ed_dms"], np.array([r["ed_bound"] for r in rows])),
        }
        if has_large:
            x = {k: np.array([r[k] for r in rows]) for k in LARGE_KEYS}
            checks["excess<=0.8KDE|fresh"] = (
                x["ex_dms"].mean() <= 0.8 * x["ex_kde"].mean()
                or _within(x["ex_dms"], x["ex_fresh"]))
            checks["excess<=bound"] = _near(x["ex_dms"], x["ex_bound"])
        bars.append((name, group, checks, x if has_large else None))
    if has_large:
        n_large = next(iter(rows_by_set.values()))[0]["n_large"]
        print(f"\nLow-noise comparison: energy distance less its floor (unbiased for the "
              f"population distance), {n_large} samples against {n_large} other held-out "
              "rows, x 1e-4, mean +- sd over seeds; DMS-KDE paired, +- its standard error; "
              "bound: E|X - X'| / n_train, the least population distance an estimator "
              "from n_train rows can expect (efficiency_bound); DMS-bound, KDE-bound: "
              "paired, +- standard error")
        print(f"{'set':<10} {'group':<10} | {'DMS':>12} {'KDE':>12} {'GM':>13} "
              f"{'fresh':>12} | {'bound':>5} | {'DMS/KDE':>7} {'DMS-KDE':>12} "
              f"{'DMS-bound':>12} {'KDE-bound':>12}")
        for name, group, _, x in bars:
            cells = " ".join(f"{1e4 * x[k].mean():6.2f}+-{1e4 * x[k].std():<5.2f}"
                             for k in LARGE_KEYS[:-1])
            gaps = " ".join("{:+6.2f}+-{:<4.2f}".format(*_paired(a, b)) for a, b in (
                (x["ex_dms"], x["ex_kde"]), (x["ex_dms"], x["ex_bound"]),
                (x["ex_kde"], x["ex_bound"])))
            print(f"{name:<10} {group:<10} | {cells} | {1e4 * x['ex_bound'].mean():5.2f} | "
                  f"{x['ex_dms'].mean() / x['ex_kde'].mean():7.2f} {gaps}")
    print("\nThe bar of issue 18 (ED<=0.8KDE|fresh: at most 0.8x the KDE's energy distance, "
          "or within two standard errors of fresh rows'; ED<=bound: within two standard "
          "errors of the floor plus the efficiency bound E|X - X'| / n_train)")
    for name, group, checks, _ in bars:
        print(f"{name:<10} {group:<10} | "
              + " ".join(f"{k}:{'ok' if ok else 'NO'}" for k, ok in checks.items()))


# ------------------------------------------------------------------ diagnose
def _caller_clean_point(model):
    """``sample``'s posterior draw of x0 in the caller's VE coordinates."""
    mean, scale = model.data_mean_, model.data_scale_[0]

    def draw(Y, sigma, rng):
        Z = draw_clean_point(model.score_model_, (Y - mean) / scale, sigma / scale, rng)
        return mean + scale * Z

    return draw


def _caller_denoiser(model, baseline_only=False):
    """The fitted denoiser in the caller's VE coordinates: ``(Y, sigma) -> D``."""
    mean, scale = model.data_mean_, model.data_scale_[0]

    def D(Y, sigma, divergence=False):
        Z = (Y - mean) / scale
        if baseline_only:
            return mean + scale * mixture_denoise(model.score_model_.baseline, Z, sigma / scale)
        return mean + scale * denoise(model.score_model_, Z, sigma / scale)

    return D


def diagnose(name, curve, K, n_points=3000, n_samples=3000):
    X = curve.draw(N_TRAIN, 0)
    model, t_fit = _timed(lambda: DiffusionMixtureSampler(K, random_state=0).fit(X))
    scale = model.data_scale_[0]
    print(f"\n{name} (K={K}), fit {t_fit:.2f} s; degree per level (smallest first): "
          f"{model.degrees_.tolist()}")
    learned, baseline = _caller_denoiser(model), _caller_denoiser(model, True)
    learned_draw = _caller_clean_point(model)
    rng = np.random.RandomState(5)
    X0 = curve.draw(n_points, 4)
    print(f"{'t':>9} {'sigma':>8} | {'exact loss':>10} | excess: {'learned':>9} "
          f"{'(ratio)':>8} {'baseline':>9} {'(ratio)':>8}")
    sigmas = scale * sigma_from_t(model.levels_)
    for sigma in sigmas[::max(1, len(sigmas) // 12)]:
        Y = X0 + sigma * rng.standard_normal(X0.shape)
        E = curve.denoise(Y, sigma)
        floor = np.mean(np.sum((X0 - E) ** 2, axis=1))
        ex_l = np.mean(np.sum((learned(Y, sigma) - E) ** 2, axis=1))
        ex_b = np.mean(np.sum((baseline(Y, sigma) - E) ** 2, axis=1))
        print(f"{float(t_from_sigma(sigma)):9.2e} {sigma:8.4f} | {floor:10.3e} | "
              f"{ex_l:17.3e} {ex_l / floor:8.4f} {ex_b:9.3e} {ex_b / floor:8.4f}")
    held_out = HeldOutEnergy(curve.draw(N_HELD_OUT, 1000))
    steps = scale * model.score_model_.schedule.sample_sigmas(model.n_sample_steps)
    start = X.mean(axis=0) + np.sqrt(X.var(axis=0).mean() + steps[0] ** 2) * \
        rng.standard_normal((n_samples, X.shape[1]))
    print(f"fresh data: energy distance x 1e-4 {1e4 * held_out(curve.draw(n_samples, 9)):.2f}")
    for cut in (np.inf, 3.0, 1.0, 0.3, 0.1, 0.0):
        # The steps of ``sample``: x0 drawn from the law's posterior above the
        # cut, from the model's (as ``sample`` does) below it.
        def hybrid(Y, sigma, rng, cut=cut):
            if sigma > cut:
                return curve.draw_clean(Y, sigma, rng)
            return learned_draw(Y, sigma, rng)
        S = ancestral_sample(learned, start, np.append(steps, 0.0),
                             random_state=np.random.RandomState(7), clean_point=hybrid)
        print(f"exact posterior above sigma = {cut:>4}: energy distance x 1e-4 "
              f"{1e4 * held_out(S):.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sets", default=",".join(name for name, *_ in SETS))
    parser.add_argument("--diagnose", action="store_true")
    parser.add_argument("--n-train", type=int, default=N_TRAIN,
                        help="training rows (the efficiency bound falls as 1 / n_train)")
    parser.add_argument("--large", type=int, default=N_LARGE,
                        help="samples and held-out rows of the low-noise comparison (0: skip)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    chosen = [s for s in SETS if s[0] in args.sets.split(",")]
    if args.diagnose:
        # Without --sets, the tuning sets only (diagnosing a set is looking at it).
        explicit = parser.get_default("sets") != args.sets
        for name, make, K, group in chosen:
            if explicit or group == "tuning":
                diagnose(name, make(), K)
        return
    print(f"{args.n_train} training rows, {N_SAMPLES} samples, energy distance to "
          f"{N_HELD_OUT} held-out rows, log-likelihood of {N_LIKELIHOOD} others; "
          f"seeds 0..{args.seeds - 1}")
    print_header(args.large)
    rows_by_set = {}
    for name, make, K, group in chosen:
        curve = make()
        rows = []
        for seed in range(args.seeds):
            row = run_case(curve, K, seed, args.large, args.n_train)
            print_row(f"{name} K={K} seed={seed}", row)
            rows.append(row)
        rows_by_set[(name, group)] = rows
    print_summary(rows_by_set)


if __name__ == "__main__":
    main()
