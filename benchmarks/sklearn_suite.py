"""scikit-learn's own GaussianMixture tests, run against DDPMGaussianMixture (issue 28).

Copies ``sklearn/mixture/tests/test_gaussian_mixture.py`` of the installed
scikit-learn, with ``GaussianMixture`` imported from this package and the
estimator's name in the not-fitted messages, beside scikit-learn's own
``conftest.py`` (its fixtures), into a temporary folder; runs pytest there and
prints its summary. The tests that read GaussianMixture's private internals
(``_set_parameters``, ``_estimate_gaussian_parameters``) fail by design.

    OMP_NUM_THREADS=1 python benchmarks/sklearn_suite.py [-- extra pytest arguments]
"""

import pathlib
import re
import subprocess
import sys
import tempfile

import sklearn


def main():
    root = pathlib.Path(sklearn.__file__).parent
    source = (root / "mixture" / "tests" / "test_gaussian_mixture.py").read_text()
    patched, count = re.subn(r"^from sklearn\.mixture import GaussianMixture$",
                             "from sklearn_ddpm_gmm import DDPMGaussianMixture as GaussianMixture",
                             source, flags=re.MULTILINE)
    if count != 1:
        sys.exit("scikit-learn's test module no longer imports GaussianMixture as expected")
    patched = patched.replace("This GaussianMixture instance", "This DDPMGaussianMixture instance")
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        (folder / "test_gaussian_mixture.py").write_text(patched)
        (folder / "conftest.py").write_text((root / "conftest.py").read_text())
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "test_gaussian_mixture.py", *sys.argv[1:]]
        completed = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    print(f"scikit-learn {sklearn.__version__}")
    summary = [line for line in completed.stdout.splitlines()
               if line.startswith(("FAILED", "ERROR")) or re.search(r"\d+ (passed|failed)", line)]
    print("\n".join(summary) if summary else completed.stdout[-2000:] + completed.stderr[-2000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
