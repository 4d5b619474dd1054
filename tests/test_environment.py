"""pyproject.toml and environment.yml must describe the same environment."""

import re
from pathlib import Path

import tomllib
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name → PyPI name


def _parse(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement.split("#")[0])
    assert match, requirement
    name = match.group(1).lower().replace("_", "-")
    return CONDA_NAMES.get(name, name), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_parse(r) for r in reqs)


def _environment() -> dict[str, str]:
    """The package lines of environment.yml (a tiny reader for its flat list; no YAML library needed)."""
    found = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:") :].splitlines()[1:]:
        item = re.fullmatch(r"\s*-\s+(.+?)\s*", line.split("#")[0])
        if not item or item.group(1).endswith(":") or item.group(1).startswith("-e"):
            continue
        name, spec = _parse(item.group(1))
        if name not in {"python", "pip"}:
            found[name] = spec
    return found


def test_environment_yml_matches_pyproject():
    assert _environment() == _pyproject()


def _pins() -> dict[str, str]:
    """constraints.txt: the exact versions `make setup` installs (name → version)."""
    lines = [line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text().splitlines()]
    return dict(line.split("==") for line in lines if line)


def test_pyproject_admits_the_pinned_versions():
    deps, pins = _pyproject(), _pins()
    assert {"torch", "torchvision"} <= set(pins)
    for name, version in pins.items():
        assert version in SpecifierSet(deps[name]), (name, version, deps[name])


def test_make_setup_installs_with_the_pins():
    makefile = (ROOT / "Makefile").read_text()
    # the install stamps carry the checksum: a change of either file reinstalls
    checksum = makefile.split("HASH   :=")[1].splitlines()[0]
    assert "-c constraints.txt" in makefile and "constraints.txt" in checksum
    assert "$(HASH)" in makefile.split("COURSE_STAMP :=")[1].splitlines()[0]
    assert "$(HASH)" in makefile.split("STAMP  :=")[1].splitlines()[0]


def test_the_students_install_has_no_instructor_tooling():
    """make lab installs the course alone; nbgrader comes with [instructor] / [dev]."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_parse(r)[0] for r in project["dependencies"]}
    assert "nbgrader" not in names and "pytest" not in names
    extras = project["optional-dependencies"]
    assert {_parse(r)[0] for r in extras["instructor"]} <= {_parse(r)[0] for r in extras["dev"]}
    makefile = (ROOT / "Makefile").read_text()
    course_install = makefile.split("$(COURSE_STAMP): ")[1].split("\n\n")[0]
    assert "-e ." in course_install and "[dev]" not in course_install
