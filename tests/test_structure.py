"""The shape of the tree: no import circle inside the package, of any length, and no product
file past the size a reader can hold (700 lines)."""

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
    """Every set of modules that import one another round a loop, however long (the strongly
    connected components of more than one module, by Tarjan's algorithm), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_package_modules_import_each_other_round_a_loop():
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


def test_the_import_check_finds_a_loop_of_three_modules():
    modules = {"p", "p.a", "p.b", "p.c", "p.d"}
    graph = {
        "p.a": imports_of("from .b import x", "p.a", False, modules),
        "p.b": imports_of("from . import c", "p.b", False, modules),
        "p.c": imports_of("def f():\n    from .a import y\n", "p.c", False, modules),
        "p.d": imports_of("from .a import x", "p.d", False, modules),
    }
    assert circles(graph) == [("p.a", "p.b", "p.c")]
