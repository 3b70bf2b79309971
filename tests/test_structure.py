"""The shape of the tree that issue 18 settled: no import circle inside the package, and no
product file past the size a reader can hold (700 lines)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "python" / "pyramid_nacl_session"
MOST_LINES = 700


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source, name, is_package, modules):
    """The modules among ``modules`` that module ``name`` imports, at the top or inside a
    function (``from . import x`` names the submodule ``x``, not the package)."""
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & modules
            found |= submodules or ({target} & modules)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names} & modules
    found.discard(name)
    return found


def circles(graph):
    return sorted((a, b) for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))


def test_no_two_package_modules_import_each_other():
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph = {
        module_name(path): imports_of(
            path.read_text(encoding="utf-8"),
            module_name(path),
            path.name == "__init__.py",
            modules,
        )
        for path in paths
    }
    assert circles(graph) == []


def test_the_import_check_finds_a_circle_even_through_a_lazy_import():
    modules = {"p", "p.a", "p.b"}
    graph = {
        "p.a": imports_of("from .b import x", "p.a", False, modules),
        "p.b": imports_of("def f():\n    from . import a\n", "p.b", False, modules),
    }
    assert circles(graph) == [("p.a", "p.b")]


@pytest.mark.parametrize(
    "path",
    sorted([*PACKAGE.rglob("*.py"), *(ROOT / "src").rglob("*.rs")], key=str),
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_product_file_is_over_700_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MOST_LINES
