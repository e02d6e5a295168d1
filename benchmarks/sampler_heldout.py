"""DiffusionMixtureSampler alone on bench_sampler.py's sets: held-out
log-likelihood, energy distance of 5 000 samples to held-out rows, fit time.

For comparing two checkouts of the package, seed by seed (the draws are
bench_sampler's):

    OMP_NUM_THREADS=1 PYTHONPATH=<checkout> python benchmarks/sampler_heldout.py \
        out.json [--sets ring,moons,...] [--seeds 5]

then pair the two JSON files by key ("set/seed").
"""

import argparse
import json
import time

import bench_sampler as b
from sklearn_ddpm_gmm import DiffusionMixtureSampler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--sets", default=",".join(name for name, *_ in b.SETS))
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    sets = {name: (curve, K) for name, curve, K, _ in b.SETS}
    results = {}
    for name in args.sets.split(","):
        make, K = sets[name]
        curve = make()
        for seed in range(args.seeds):
            X = curve.draw(b.N_TRAIN, seed)
            X_ll = curve.draw(b.N_LIKELIHOOD, 2000 + seed)
            energy = b.HeldOutEnergy(curve.draw(b.N_HELD_OUT, 1000 + seed))
            start = time.perf_counter()
            model = DiffusionMixtureSampler(K, random_state=seed).fit(X)
            fit = time.perf_counter() - start
            samples = model.sample(b.N_SAMPLES, random_state=seed)[0]
            results[f"{name}/{seed}"] = {"ll": float(model.score(X_ll)),
                                         "ed": float(energy(samples)), "fit": fit}
            print(name, seed, results[f"{name}/{seed}"], flush=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
