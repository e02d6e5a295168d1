"""The call path of ``DDPMGaussianMixture.fit`` before its first gradient step.

Traces the package's Python calls from ``fit`` until the first step (the
first DDPM step, ``_optim._preconditioned_step``, or the first EM-matched
step, ``_likelihood.em_step``) and prints:

- the stack at that moment: the package's frames, each with its module;
- the modules along it in order, and whether each is entered once (the call
  goes down the layers, never back into a module it has left);
- over the whole trace: how many calls went back into a module that was
  already on the stack below the caller (a cycle between layers); how often
  the sequence of modules that calls enter returns to one it has left (the
  data going back and forth); and how many distinct package functions ran.

    python benchmarks/call_path.py [--noise-level auto]
"""

import argparse
import sys

import numpy as np

import sklearn_ddpm_gmm
from sklearn_ddpm_gmm import DDPMGaussianMixture
from sklearn_ddpm_gmm.datasets import make_covariance_mixture

PACKAGE = sklearn_ddpm_gmm.__name__
FIRST_STEPS = {("_optim", "_preconditioned_step"), ("_likelihood", "em_step")}


def _module(frame):
    name = frame.f_globals.get("__name__", "")
    return name.split(".", 1)[1] if name.startswith(PACKAGE + ".") else None


class _Tracer:
    def __init__(self):
        self.stack_at_step = None
        self.returns = 0
        self.functions = set()
        self.entered = []  # modules entered by calls, consecutive repeats collapsed

    def __call__(self, frame, event, arg):
        if event != "call" or self.stack_at_step is not None:
            return
        module = _module(frame)
        if module is None:
            return
        self.functions.add((module, frame.f_code.co_name))
        if not self.entered or self.entered[-1] != module:
            self.entered.append(module)
        path = self._package_stack(frame)
        below = [m for m, _ in path[:-2]]
        caller = path[-2][0] if len(path) > 1 else None
        if caller is not None and module != caller and module in below:
            self.returns += 1
        if (module, frame.f_code.co_name) in FIRST_STEPS:
            self.stack_at_step = path

    @staticmethod
    def _package_stack(frame):
        frames = []
        while frame is not None:
            module = _module(frame)
            if module is not None:
                frames.append((module, frame.f_code.co_name))
            frame = frame.f_back
        return frames[::-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise-level", default="integrated")
    parser.add_argument("--covariance-type", default="full")
    args = parser.parse_args()
    noise = args.noise_level
    noise = noise if noise in ("integrated", "auto") else float(noise)
    X = make_covariance_mixture(3000, 5, 3, random_state=0)[0]
    model = DDPMGaussianMixture(3, covariance_type=args.covariance_type, noise_level=noise,
                                random_state=0)
    tracer = _Tracer()
    sys.setprofile(tracer)
    try:
        model.fit(X)
    finally:
        sys.setprofile(None)
    stack = tracer.stack_at_step
    print(f"fit(noise_level={noise!r}, covariance_type={args.covariance_type!r}): "
          f"{len(stack)} package frames at the first step")
    for depth, (module, function) in enumerate(stack):
        print(f"  {depth:2d} {module}.{function}")
    modules = [module for k, (module, _) in enumerate(stack)
               if k == 0 or module != stack[k - 1][0]]
    once = len(modules) == len(set(modules))
    print(f"modules along the stack: {' -> '.join(modules)} "
          f"({len(set(modules))} modules, {'each entered once' if once else 're-entered'})")
    print(f"calls back into a module already on the stack, before the first step: "
          f"{tracer.returns}")
    seen, back = set(), 0
    for module in tracer.entered:
        back += module in seen
        seen.add(module)
    print(f"the entered modules' sequence returns to a module it left: {back} times "
          f"({len(tracer.entered)} switches); distinct package functions run: "
          f"{len(tracer.functions)}")
    return 0 if np.isfinite(model.lower_bound_) else 1


if __name__ == "__main__":
    raise SystemExit(main())
