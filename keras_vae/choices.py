"""Choice lists read from the module that owns them, without importing it.

The `keras-vae` command builds its parser from these, so `--help` and argument errors
come before TensorFlow is imported. The owning module stays the one place a choice is
listed: a tuple literal, or the keys of a dict literal, assigned at its top level.
"""

import ast
import functools
import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@functools.cache
def listed(module, name):
    """The tuple (or the dict's keys) `name` in `module`, e.g. `listed("keras_vae.export", ...)`.

    Example:

    >>> listed("keras_vae.models.objectives", "OBJECTIVES")
    ('elbo', 'iwae')
    """
    loaded = sys.modules.get(module)
    if loaded is not None:  # already imported: the object itself
        return tuple(getattr(loaded, name))
    path = os.path.join(_PACKAGE_DIR, *module.split(".")[1:]) + ".py"
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(node.value, ast.Dict):
                return tuple(ast.literal_eval(key) for key in node.value.keys)
            return tuple(ast.literal_eval(node.value))
    raise LookupError(f"{module} assigns no literal {name}")
