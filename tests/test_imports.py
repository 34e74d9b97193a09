"""The package's imports flow one way: no module imports, however indirectly, one that imports it.

Read from the source with ast, every import counted: at the top, inside functions, and under
TYPE_CHECKING (a circle held together by a late import is still a circle). `from pkg import name`
counts as an import of the submodule pkg/name.py where there is one, else of pkg. A package's
__init__ running before its submodules is Python's business, not an edge. The backend registry's
import_module strings (backends/__init__.py) are lazy by design and not followed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the package directory."""
    out = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_names(package)
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports (a list of modules, the first repeated at the end), or []."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph(ROOT / "autophagy"))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_through_a_late_import_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    assert find_cycle(import_graph(pkg)) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(pkg)) == []


def test_no_backend_imports_another():
    """Each backend (a package or module under backends/ that its registry names) imports the shared
    pieces (the image kit backends/images/, adapter.py, base.py), never another backend."""
    from autophagy.backends import _REGISTRY

    graph = import_graph(ROOT / "autophagy")
    # each backend's home: the module or package under backends/ that its registry entry names
    backends = {target.split(":")[0].split(".")[2] for entry in _REGISTRY.values() for target in entry}
    assert backends == {"ddpm", "digits", "gmm", "stable_diffusion"}

    def owner(module: str) -> str | None:
        parts = module.split(".")
        return parts[2] if len(parts) > 2 and parts[:2] == ["autophagy", "backends"] and parts[2] in backends else None

    crossings = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                       if owner(a) and owner(b) and owner(a) != owner(b))
    assert crossings == []
