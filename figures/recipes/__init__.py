"""Figure recipes, one module each (see :mod:`cbn.figures.recipe_runner` for the interface)."""

__all__ = ["RECIPES"]

#: Recipe modules in report order.
RECIPES: tuple[str, ...] = ("linear_cost_depth", "cbn_spectra", "bottleneck_slack",
                              "activation_energy", "gunasekar_sparsity", "downsampling",
                              "tasks", "dynamics_stages", "mnist_classifier")
