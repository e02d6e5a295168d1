"""Command line: ``python -m sklearn_ddpm_gmm demo [--output FILE]``."""

import argparse

from ._demo import run_demo


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklearn_ddpm_gmm")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit built-in data, compare with scikit-learn's EM, write a plot"
    )
    demo.add_argument("--output", default="ddpm_gmm_demo.png", help="plot file")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run_demo(output=args.output, seed=args.seed)


if __name__ == "__main__":
    main()
