"""environment.yml (the pinned build) and pyproject.toml (litlib's lower bounds) agree."""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from pip_pins import pip_lines  # noqa: E402


def _pins() -> dict[str, str]:
    pins = {}
    for line in pip_lines((ROOT / "environment.yml").read_text()):
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"environment.yml must pin exactly: {line}"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_dependency_is_pinned_and_satisfies_its_bound() -> None:
    pins = _pins()
    project = _project()
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    for line in reqs:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is a dependency of litlib but not pinned in environment.yml"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"pin {name}=={pins[name]} violates {req}"
        )


def test_library_has_lower_bounds_only() -> None:
    for line in _project()["dependencies"]:
        req = Requirement(line)
        assert all(s.operator == ">=" for s in req.specifier), f"litlib must not pin exactly: {line}"


def test_every_pin_is_used() -> None:
    project = _project()
    names = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        names |= {canonicalize_name(Requirement(r).name) for r in extra}
    unused = set(_pins()) - names
    assert not unused, f"environment.yml pins packages no part of pyproject.toml asks for: {sorted(unused)}"
