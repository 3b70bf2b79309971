"""The docs are tests: every code block in README.md and docs/*.rst runs here, as printed.

Sybil finds the blocks; each document is one test, its blocks run in order in one namespace and
one working directory (a temp dir), so a later block may use a file an earlier one made. A new
block runs as soon as it is written: there is nothing to register.

How each kind of block runs:

``python``
    Executed. Names a block takes from its surroundings (``config``, ``request``...) are set by
    an invisible block just before it (``.. invisible-code-block: python`` in reST,
    ``<!-- invisible-code-block: python`` in Markdown), which readers do not see. A function or
    class a printed block defines must be called or referenced by a later block (an invisible
    one that wires it into an app and checks what the prose says it does), or it would be
    defined and never run.
``ini``
    Written to a file and loaded as pserve loads it, with ``pyramid.paster.get_app``
    (PasteDeploy); the app then serves two requests, and the second must see the session the
    first one stored. ``egg:myapp`` is a real distribution here (see ``myapp_main``). A fragment
    (no ``[section]`` header) goes under ``[app:main]``; a block that lacks ``use``,
    ``pyramid.includes`` or a key (``secret``, ``secret_file`` or ``secret_env``) gets ``use =
    egg:myapp``, ``pyramid.includes = pyramid_nacl_session`` or a new key, and nothing else is
    changed.
``console`` / ``bash`` / ``shell``
    Each ``$ `` line is run by bash in the working directory with this virtualenv's commands
    first on ``PATH``; the lines after it, when there are any, are its expected output
    (standard output and error together). In them ``...`` stands for any text and ``<64 hex
    digits>`` for a key. A command must exit 0.
``json``
    Parsed.

Anything else (``text``, no language) must follow a skip directive with a reason (``.. skip:
next "why"``, ``<!-- skip: next "why" -->``), as must a block that cannot run here; a block
that is neither run nor skipped with a reason fails its document's test.

Placeholders are substituted, and nothing else: the names in ``PLACEHOLDERS`` (each a new key,
or a test value), and Redis's default address, which becomes a test redis-server's.
"""

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import SkipTest

import pytest
from pyramid.config import Configurator
from pyramid.paster import get_app
from sybil import Document
from sybil.evaluators.python import PythonEvaluator
from sybil.evaluators.skip import Skipper
from sybil.parsers.abstract import AbstractCodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, FencedCodeBlockLexer
from sybil.parsers.markdown.skip import SkipParser as MarkdownSkipParser
from sybil.parsers.rest.lexers import DirectiveInCommentLexer, DirectiveLexer
from sybil.parsers.rest.skip import SkipParser as RestSkipParser
from webtest import TestApp

from pyramid_nacl_session import generate_secret

from .redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
BIN = Path(sys.executable).parent


def new_key():
    return generate_secret().decode("ascii")


# Placeholder -> how to make its value (one value per document, so a name used twice agrees).
# The cookie and session id placeholders take what an invisible block left in the namespace.
PLACEHOLDERS = {
    "PASTE_THE_KEY_FROM_session.key_HERE": lambda namespace: new_key(),
    "NEW_KEY_64_HEX_DIGITS": lambda namespace: new_key(),
    "OLD_KEY_64_HEX_DIGITS": lambda namespace: new_key(),
    "THE_OLD_SIGNING_SECRET": lambda namespace: "signing-" + new_key(),
    "PASTE_THE_COOKIE_HERE": lambda namespace: namespace["cookie"],
    "PASTE_THE_SESSION_ID_HERE": lambda namespace: namespace["session_id"],
}
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"
# Commands never run here, whatever the docs say: they would change the virtualenv the suite runs
# in, or build and test the whole project (minutes).
NOT_HERE = re.compile(r"\s*(pip install|maturin|\./scripts/|cargo|python -m pip)")
OUTPUT_MARKERS = {"...": ".*?", "<64 hex digits>": "[0-9a-f]{64}"}


# -- egg:myapp ---------------------------------------------------------------------------------


def myapp_main(global_config, **settings):
    """The app that ``use = egg:myapp`` names in the docs: a visit counter in the session."""

    def count(request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"]}

    with Configurator(settings=settings) as config:
        config.add_route("any", "/*rest")
        config.add_view(count, route_name="any", renderer="json")
    return config.make_wsgi_app()


@pytest.fixture(scope="module")
def myapp_site(tmp_path_factory):
    """A ``myapp`` distribution on sys.path whose ``main`` app factory is ``myapp_main``; the
    directory holding it, for the PYTHONPATH of commands."""
    site = tmp_path_factory.mktemp("site")
    info = site / "myapp-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myapp\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[paste.app_factory]\nmain = {__name__}:myapp_main\n")
    sys.path.append(str(site))
    yield site
    sys.path.remove(str(site))


# -- evaluators --------------------------------------------------------------------------------


def substitute(text, namespace):
    values = namespace["placeholders"]
    for name, make in PLACEHOLDERS.items():
        if name in text:
            if name not in values:
                values[name] = make(namespace)
            text = text.replace(name, values[name])
    if REDIS_DEFAULT in text:
        text = text.replace(REDIS_DEFAULT, namespace["redis_url"]())
    return text


def complete_ini(text):
    """The block as an .ini file pserve can load (see the module docstring)."""
    if not re.search(r"^\[", text, re.M):
        text = "[app:main]\n" + text
    head = re.search(r"^\[app:main\][ \t]*\n", text, re.M)
    assert head, "an .ini block must have an [app:main] section, or no section at all"
    section = text[head.end() :].split("\n[", 1)[0]
    added = []
    if not re.search(r"^use\s*=", section, re.M):
        added.append("use = egg:myapp")
    if not re.search(r"^pyramid\.includes\s*=", section, re.M):
        added.append("pyramid.includes = pyramid_nacl_session")
    if not re.search(r"^(pynacl\.)?session\.secret(_file|_env)?\s*=", section, re.M):
        added.append(f"session.secret = {new_key()}")
    return text[: head.end()] + "".join(line + "\n" for line in added) + text[head.end() :]


def setting(settings, name, default):
    for prefix in ("pynacl.session.", "session."):
        if settings.get(prefix + name):
            return settings[prefix + name]
    return default


def evaluate_ini(example):
    namespace = example.namespace
    commented = [line for line in example.parsed.splitlines() if re.search(r"=.*\s[#;]", line)]
    # PasteDeploy keeps such a comment in the value: a reader copying the line gets a setting
    # that is not the one they read.
    assert not commented, (
        f"a comment after a value, which PasteDeploy reads as part of it: {commented}"
    )
    ini = namespace["workdir"] / f"block-{example.line}.ini"
    ini.write_text(complete_ini(substitute(example.parsed, namespace)))
    app = get_app(str(ini), "main")
    settings = app.registry.settings
    browser = TestApp(
        app,
        extra_environ={
            "wsgi.url_scheme": "https",
            "HTTP_HOST": setting(settings, "domain", "localhost").lstrip("."),
        },
    )
    path = setting(settings, "path", "/")
    first = browser.get(path)
    name = setting(settings, "cookie_name", "session")
    cookies = [h.split(";", 1)[0] for h in first.headers.getall("Set-Cookie")]
    [cookie] = [c for c in cookies if c.startswith(name + "=")]
    second = browser.get(path, headers={"Cookie": cookie})
    assert second.json == {"visits": 2}, f"the session did not come back: {second.json}"
    revocation = getattr(app.registry.queryUtility(_session_factory_iface()), "revocation", None)
    if revocation is not None:
        revocation.close()


def _session_factory_iface():
    from pyramid.interfaces import ISessionFactory

    return ISessionFactory


def commands(block):
    """(command, expected output or None) for each ``$ `` line of a shell block."""
    found = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("$ "), f"a shell block line that follows no command: {line!r}"
        command = line[2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1] + "\n" + lines[i]
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        found.append((command, "\n".join(output).strip() or None))
    return found


def output_pattern(expected):
    parts = re.split("(" + "|".join(re.escape(m) for m in OUTPUT_MARKERS) + ")", expected)
    return "".join(OUTPUT_MARKERS.get(p, re.escape(p)) for p in parts)


def evaluate_shell(example):
    namespace = example.namespace
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        # egg:myapp, for commands that load an .ini (decode --ini, revoke)
        PYTHONPATH=os.pathsep.join([str(namespace["myapp_site"]), str(ROOT)]),
        **namespace["shell_env"],
    )
    for command, expected in commands(substitute(example.parsed, namespace)):
        assert not NOT_HERE.match(command), (
            f"$ {command}\nchanges this virtualenv or the clone, or runs for minutes: mark it skip"
        )
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=namespace["workdir"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        out = "\n".join(line.rstrip() for line in done.stdout.strip().splitlines())
        assert done.returncode == 0, f"$ {command}\nexit status {done.returncode}:\n{out}"
        if expected is not None:
            assert re.fullmatch(output_pattern(expected), out, re.S), (
                f"$ {command}\nprinted:\n{out}\nwhere the docs show:\n{expected}"
            )


def evaluate_json(example):
    json.loads(example.parsed)


def not_run(example):
    language = example.region.lexemes.get("arguments") or "no language"
    raise AssertionError(
        f"a {language} block is neither run nor marked: put a skip directive with a reason "
        "before it, or give it a language these tests run (see tests/test_docs.py)"
    )


EVALUATORS = {
    "python": PythonEvaluator(),
    "ini": evaluate_ini,
    "console": evaluate_shell,
    "bash": evaluate_shell,
    "shell": evaluate_shell,
    "json": evaluate_json,
}


class AnyCodeBlockParser(AbstractCodeBlockParser):
    """Every code block, whatever its language, with the evaluator its language has."""

    language = "any"

    def __call__(self, document):
        for region in self.lexers(document):
            language = (region.lexemes.get("arguments") or "").strip()
            if language.startswith(":"):
                # ".. code-block:: x" as the comment lexer reads it; the directive lexer has it
                continue
            region.parsed = region.lexemes["source"]
            region.evaluator = EVALUATORS.get(language, not_run)
            yield region


REST = [
    AnyCodeBlockParser(
        [
            DirectiveLexer(directive=r"(sourcecode|code-block|code)"),
            DirectiveInCommentLexer(directive=r"(invisible-)?code(-block)?"),
        ]
    ),
    RestSkipParser(),
]
MARKDOWN = [
    AnyCodeBlockParser(
        [
            FencedCodeBlockLexer(
                language=r".*", mapping={"language": "arguments", "source": "source"}
            ),
            DirectiveInHTMLCommentLexer(directive=r"(invisible-)?code(-block)?", arguments=".+"),
        ]
    ),
    MarkdownSkipParser(),
]


def parse(path):
    return Document.parse(str(path), *(MARKDOWN if path.suffix == ".md" else REST))


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_runs_as_printed(path, tmp_path, myapp_site, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the one working directory, for Python blocks as for commands
    document = parse(path)
    redis = []

    def redis_url():
        if not redis:
            server = RedisServer(tmp_path)
            server.start()
            redis.append(server)
        return redis[0].url

    document.namespace.update(
        workdir=tmp_path,
        shell_env={},
        placeholders={},
        redis_url=redis_url,
        myapp_site=myapp_site,
    )
    skipped = []
    try:
        for example in document:
            if isinstance(example.region.evaluator, Skipper):
                action, reason = example.parsed
                assert action == "end" or reason, (
                    f"{path.name}, line {example.line}: a skip needs a reason"
                )
            try:
                example.evaluate()
            except SkipTest as e:
                skipped.append((example.line, str(e)))
            except Exception as e:
                raise AssertionError(f"{path.name}, line {example.line}: {e!r}") from e
    finally:
        for server in redis:
            server.stop()


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_block_escapes_the_tests(path):
    """Code Sybil would not see: reST ``::`` literal blocks and Markdown indented blocks."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".rst":
        literal = [
            n
            for n, line in enumerate(text.splitlines(), 1)
            if line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        ]
        assert literal == [], f"{path.name}: '::' literal blocks at lines {literal}: use code-block"
    else:
        indented, fenced, previous = [], False, ""
        for n, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and line.startswith("    ") and not previous.strip():
                indented.append(n)
            previous = line
        assert indented == [], f"{path.name}: indented code blocks at lines {indented}: fence them"


# 64 hex digits, but not an image digest (``@sha256:...``), which a workflow pins by.
KEY_LIKE = re.compile(r"(?<![0-9a-fA-F])(?<!sha256:)[0-9a-fA-F]{64}(?![0-9a-fA-F])")


#: What a build or a test run leaves in an unpacked sdist, which has no git to ask.
UNTRACKED = {".venv", ".venv-1.0", "target", "__pycache__", ".pytest_cache", "_build", "dist"}


def tracked_files():
    """Every file of the clone that git tracks: what a reader browses and copies from. From an
    unpacked sdist (no .git), every file it holds but what builds and test runs leave."""
    if not (ROOT / ".git").exists():
        return [
            path
            for path in sorted(ROOT.rglob("*"))
            if path.is_file()
            and not UNTRACKED.intersection(path.relative_to(ROOT).parts)
            and not path.name.endswith((".so", ".pyd", ".egg-info"))
            and ".egg-info" not in path.as_posix()
        ]
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, stdout=subprocess.PIPE, check=True
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_real_looking_key_is_printed():
    """A key in the docs, an example or a benchmark gets copied: they show placeholders and
    commands that make keys. Tests may hold keys (known test vectors); lock files hold checksums;
    Rust test modules, from ``#[cfg(test)]`` on, are tests."""
    found = []
    for path in tracked_files():
        name = path.relative_to(ROOT).as_posix()
        if name.startswith("tests/") or path.name == "Cargo.lock" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if path.suffix == ".rs":
            text = text.split("#[cfg(test)]", 1)[0]
        found += [f"{name}: {key}" for key in KEY_LIKE.findall(text)]
    assert found == []


def test_the_load_benchmark_serves_its_baseline_with_a_key_it_makes(tmp_path):
    """benchmarks/load/baseline.ini names no key; the load script puts a new one in its copy."""
    spec = importlib.util.spec_from_file_location("load_run", ROOT / "benchmarks/load/run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    assert run.KEY_PLACEHOLDER in run.BASELINE_INI.read_text()
    first = run.serve_ini(run.BASELINE_INI, 6544, 4, tmp_path)
    second = run.serve_ini(run.BASELINE_INI, 6545, 4, tmp_path)
    assert KEY_LIKE.findall(first.read_text()) != KEY_LIKE.findall(second.read_text())
    browser = TestApp(get_app(str(first), "main"))
    assert browser.get("/").status_int == 200
    assert "demo_session" in browser.cookies


def python_blocks(path):
    """(line, source, shown) for each python block of a document that runs, in order; ``shown``
    is False for an invisible block. A block a skip directive covers is left out."""
    blocks, skip_next, skipping = [], False, False
    for example in parse(path):
        region = example.region
        if isinstance(region.evaluator, Skipper):
            action = example.parsed[0]
            skip_next = action == "next"
            skipping = {"start": True, "end": False}.get(action, skipping)
            continue
        skipped, skip_next = skip_next or skipping, False
        if isinstance(region.evaluator, PythonEvaluator) and not skipped:
            shown = not region.lexemes.get("directive", "").startswith("invisible")
            blocks.append((example.line, region.parsed, shown))
    return blocks


def used_names(tree):
    return {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(tree)
        if isinstance(node, (ast.Name, ast.Attribute))
    }


def unused_definitions(path):
    """Functions and classes a printed python block defines that no later block of the document
    calls or references, as ``line N: name``."""
    blocks = python_blocks(path)
    unused = []
    for n, (line, source, shown) in enumerate(blocks):
        if not shown:
            continue
        later = set().union(*(used_names(ast.parse(s)) for _, s, _ in blocks[n + 1 :]))
        for node in ast.parse(source).body:
            defines = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            if isinstance(node, defines) and node.name not in later:
                unused.append(f"line {line}: {node.name}")
    return unused


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_printed_function_and_class_is_used_by_a_later_block(path):
    """A printed block that only defines a function runs without running the function: some later
    block (an invisible one, usually, wiring it into an app) must call or reference each function
    and class a printed block defines, or the block must be marked as not run."""
    unused = unused_definitions(path)
    assert unused == [], f"{path.name}: defined and never called or referenced after: {unused}"


def test_the_unused_definition_check_sees_what_it_should(tmp_path):
    doc = tmp_path / "doc.rst"
    doc.write_text(
        ".. code-block:: python\n\n    def used(): pass\n\n    def unused(): pass\n\n"
        "    class Model: pass\n\n"
        '.. skip: next "not run"\n\n.. code-block:: python\n\n    def skipped(): pass\n\n'
        ".. invisible-code-block: python\n\n    def hidden(): pass\n\n    used()\n"
        "    assert isinstance(None, Model)\n\n"
        ".. code-block:: python\n\n    def last(): pass\n"
    )
    assert unused_definitions(doc) == ["line 1: unused", "line 22: last"]
