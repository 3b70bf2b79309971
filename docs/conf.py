"""Sphinx configuration for the pyramid_nacl_session documentation.

Build with warnings as errors:  sphinx-build -W -b html docs docs/_build/html
The package must be importable (``maturin develop``): the API pages are read from it.
"""

from importlib.metadata import version as _version

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

project = "pyramid_nacl_session"
author = "Agendaless Consulting and contributors"
copyright = "Agendaless Consulting, the Pylons Project and contributors"
release = _version("pyramid-nacl-session")
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]

master_doc = "index"
exclude_patterns = ["_build"]
pygments_style = "sphinx"

# The docstrings say what each argument takes; the private type aliases of the signatures
# (_Secret, _SerializerArg) would only add noise.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# Short entries in the sidebar (dumps(), not EncryptedSerializer.dumps()): long ones overflow.
toc_object_entries_show_parents = "hide"

# The Pylons projects' theme (pylons-sphinx-themes on PyPI).
html_theme = "pyramid"
html_title = f"pyramid_nacl_session {release}"
# custom.css: long API names wrap inside the sidebar instead of running into the text.
html_static_path = ["_static"]
html_css_files = ["custom.css"]


def _strip_native_signature(app, what, name, obj, options, lines):
    # The native classes and functions carry CPython's "name(signature)\n--\n" docstring header.
    # autodoc reads the signature line itself; the "--" line that follows it would render as text.
    while lines and lines[0].strip() in ("", "--"):
        del lines[0]


class _Options(Directive):
    """``.. pyramid-nacl-options::``: the options page's list, a section per option, made from
    the options' records (pyramid_nacl_session/registry.py), so the page cannot drift from
    them."""

    def run(self):
        from pyramid_nacl_session.registry import rst

        node = nodes.Element()
        nested_parse_with_titles(self.state, StringList(rst(), "registry.py"), node)
        return node.children


def setup(app):
    app.connect("autodoc-process-docstring", _strip_native_signature)
    app.add_directive("pyramid-nacl-options", _Options)
