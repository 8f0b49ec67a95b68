"""requirements.txt is what a Space installs: Gradio pinned to the Space's sdk_version, and every package the app
imports named in it."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import gradio
from huggingface_hub import RepoCard
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"aigc/bench.py"}  # run with requirements-dev.txt, never by the app
OPTIONAL = {"spaces"}  # ZeroGPU's package: a ZeroGPU Space provides it; elsewhere the app runs without it


def requirements() -> dict[str, Requirement]:
    lines = (line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines())
    found = [Requirement(line) for line in lines if line]
    return {canonical(requirement.name): requirement for requirement in found}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> set[str]:
    """The top-level modules that app.py and aigc/ import, but for the standard library and aigc itself."""
    sources = [ROOT / "app.py", *sorted((ROOT / "aigc").rglob("*.py"))]
    modules = set()
    for source in sources:
        if source.relative_to(ROOT).as_posix() in DEV_TOOLS:
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"aigc", "app"} - OPTIONAL


def test_gradio_is_pinned_to_the_spaces_sdk_version_and_that_is_what_runs_here():
    sdk_version = RepoCard.load(ROOT / "README.md").data.sdk_version
    assert str(requirements()["gradio"].specifier) == f"=={sdk_version}"
    assert gradio.__version__ == sdk_version


def test_every_package_the_app_imports_is_a_requirement():
    distributions = importlib.metadata.packages_distributions()
    needed = {canonical(distributions[module][0]) for module in imported_modules()}
    assert {"torch", "gradio", "huggingface-hub", "pillow", "numpy"} <= needed  # the imports were found
    assert sorted(needed - set(requirements())) == []


def test_what_is_installed_here_meets_every_requirement():
    unmet = {name: str(requirement.specifier) for name, requirement in requirements().items()
             if not requirement.specifier.contains(importlib.metadata.version(name).split("+")[0],
                                                   prereleases=True)}
    assert unmet == {}
