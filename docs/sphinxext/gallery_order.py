"""Order of the examples in the gallery (read by docs/conf.py)."""

# The gallery reads from the first fit to the method's inner workings, then
# statistics, model selection, the sampler and streaming.
EXAMPLE_ORDER = [
    "plot_quickstart.py",
    "plot_power_iteration.py",
    "plot_em_phase.py",
    "plot_error_vs_n.py",
    "plot_model_selection.py",
    "plot_missing_values.py",
    "plot_sampler.py",
    "plot_streaming.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order`` key: the order above, then
    any other example by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLE_ORDER:
            return (EXAMPLE_ORDER.index(filename), filename)
        return (len(EXAMPLE_ORDER), filename)

    def __repr__(self):
        return "<ExampleOrder>"
