"""The install is reproducible: constraints.txt pins every package the README installs."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{path.name}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def _closure(roots: list[str]) -> set[str]:
    """The installed distributions the roots need, following their metadata's requirements."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # an optional extra, or another platform's dependency
            todo.append(req.name)
    return seen


def test_both_readme_commands_install_through_the_constraints():
    for marker in ("run-command", "test-command"):
        block = re.search(rf"<!-- {marker} -->(.*?)<!-- /{marker} -->", README, re.S).group(1)
        assert "-c constraints.txt" in block, f"the README's {marker} does not use constraints.txt"


def test_every_installed_dependency_is_pinned_in_the_constraints_at_its_installed_version():
    locked = _pins(REPO / "constraints.txt")
    direct = _pins(REPO / "requirements.txt") | _pins(REPO / "requirements-dev.txt")
    for name, version in direct.items():
        assert locked.get(name) == version, f"{name}=={version} in the requirements but {locked.get(name)} locked"
    needed = _closure(list(direct))
    missing = sorted(needed - set(locked))
    assert not missing, f"installed but not pinned in constraints.txt: {missing}"
    differ = {n: (locked[n], metadata.version(n)) for n in needed if locked[n] != metadata.version(n)}
    assert not differ, f"pinned (locked, installed) versions differ: {differ}"
