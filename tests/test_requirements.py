"""requirements.txt is what a Space installs: Gradio pinned to the Space's sdk_version, and every package the app
imports named in it.  pyproject.toml makes the same package installable with pip (``pip install -e .``)."""

import ast
import email.parser
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import gradio
from huggingface_hub import RepoCard
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DEV_TOOLS = {"aigc/bench.py"}  # run with requirements-dev.txt, never by the app
OPTIONAL = {"spaces"}  # ZeroGPU's package: a ZeroGPU Space provides it; elsewhere the app runs without it
# what pip asks of setuptools before it installs the package: its metadata, written to the folder argv[1]
METADATA = "import sys; from setuptools import build_meta; build_meta.prepare_metadata_for_build_wheel(sys.argv[1])"


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


def test_the_package_installs_as_aigc_studio_with_the_requirements_and_every_file_the_app_reads(tmp_path):
    subprocess.run([sys.executable, "-c", METADATA, str(tmp_path)], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    (dist_info,) = tmp_path.glob("*.dist-info")
    metadata = email.parser.Parser().parsestr((dist_info / "METADATA").read_text())
    assert metadata["Name"] == "aigc-studio"
    listed = sorted(str(Requirement(line)) for line in metadata.get_all("Requires-Dist"))
    assert listed == sorted(str(requirement) for requirement in requirements().values())
    (egg_info,) = tmp_path.glob("*.egg-info")
    packaged = set((egg_info / "SOURCES.txt").read_text().split())
    data = {path.relative_to(ROOT).as_posix() for path in (ROOT / "aigc").rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc")}
    assert {"aigc/hub_revisions.json", "aigc/examples/mnist.safetensors"} <= data  # the files were found
    assert sorted(data - packaged) == []
