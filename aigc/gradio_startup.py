"""Gradio imports in half the time without rewriting its own type stubs; app.py installs this before importing it.

Every ``import gradio`` parses the source of each of its ~80 components and
rewrites their ``.pyi`` type stubs inside the installed package
(``gradio.component_meta.create_or_modify_pyi``): a tool for Gradio's own
developers that changes nothing the app does, and was half of Gradio's import
time and a fifth of the app's cold start on this repo's machine (measured with
``python -X importtime`` and cProfile; ``python -m aigc.bench --only server``).
This import hook turns it off in this process.  Should Gradio rename it, the
hook does nothing.
"""

import importlib.abc
import importlib.machinery
import sys


class SkipStubRewriting(importlib.abc.MetaPathFinder):
    """Finds ``gradio.component_meta`` as usual, and replaces its stub writer once the module has run."""

    def find_spec(self, name, path, target=None):
        if name != "gradio.component_meta":
            return None
        sys.meta_path.remove(self)  # only this one module, once
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            if hasattr(module, "create_or_modify_pyi"):
                module.create_or_modify_pyi = lambda *args, **kwargs: None

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Call before the first ``import gradio`` of the process (afterwards it is too late, and does nothing)."""
    if "gradio" not in sys.modules:
        sys.meta_path.insert(0, SkipStubRewriting())
