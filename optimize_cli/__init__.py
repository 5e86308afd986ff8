"""optimize-cli: walk TensorFlow's collaborative-optimization tree from a YAML recipe to a measured .tflite.

The library behind the CLI, imported lazily (nothing here imports TensorFlow)::

    from optimize_cli import RunOptions, load_recipe, run_recipe

    recipe = load_recipe("recipes/prune-cluster-pcqat.yaml")
    result = run_recipe(recipe, RunOptions(output="runs/demo", force=True))   # prints nothing on stdout
    print(result.result.compressed_bytes, result.exit_code)                  # result.dump() is report.json
"""

__version__ = "0.1.0"

_LAZY = {
    "load_recipe": ("optimize_cli.recipe", "load_recipe"),
    "Recipe": ("optimize_cli.recipe", "Recipe"),
    "run_recipe": ("optimize_cli.run", "run"),
    "RunOptions": ("optimize_cli.run", "RunOptions"),
    "RunResult": ("optimize_cli.run", "RunResult"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'optimize_cli' has no attribute {name!r}")
