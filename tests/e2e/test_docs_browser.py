"""The options page, built by Sphinx as scripts/check-docs-and-types builds it and opened in
headless Chromium at common window widths: nothing on it is wider than the page's body, so no
text is cut off or hidden behind a scroll bar."""

import importlib.util
import os
import pathlib

import pytest

from .chromium import require_browser

require_browser()
# Sphinx and the docs' theme are part of what this test needs (scripts/install-browser installs
# them with selenium): under CI_REQUIRE_BROWSER=1 their absence fails, as a missing browser does.
_MISSING_DOCS_TOOLS = [
    name for name in ("sphinx", "pylons_sphinx_themes") if importlib.util.find_spec(name) is None
]
if _MISSING_DOCS_TOOLS:
    _REASON = (
        f"the options page is built with {' and '.join(_MISSING_DOCS_TOOLS)}; "
        "run scripts/install-browser"
    )
    if os.environ.get("CI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CI_REQUIRE_BROWSER=1 but {_REASON}", pytrace=False)
    pytest.skip(_REASON, allow_module_level=True)

from sphinx.cmd import build as sphinx_build  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
WIDTHS = [1920, 1280, 1024]

# Every element inside the body whose right edge passes the body's own, or that scrolls
# sideways inside itself (a table or a code block wider than its box).
OVERFLOWING = """
const body = document.querySelector('div.body') || document.body;
const limit = body.getBoundingClientRect().right + 1;
const found = [];
for (const el of body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.right > limit || el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0
            && getComputedStyle(el).overflowX !== 'visible') {
        found.push(el.tagName + '.' + el.className + ' ' + Math.round(box.right) + '>' +
                   Math.round(limit) + ' ' + (el.textContent || '').slice(0, 40));
    }
}
return [found, document.documentElement.scrollWidth, window.innerWidth];
"""


@pytest.fixture(scope="module")
def options_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    assert sphinx_build.build_main(["-q", "-b", "html", str(DOCS), str(out)]) == 0
    return (out / "options.html").as_uri()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_options_page_fits_the_window(browser, options_page, width):
    browser.set_window_size(width, 900)
    browser.get(options_page)
    found, page_width, window_width = browser.execute_script(OVERFLOWING)
    assert found == []
    assert page_width <= window_width
    # Every option is on the page (its section's anchor), so the check saw the whole list.
    from pyramid_nacl_session.registry import OPTIONS

    for option in OPTIONS:
        anchor = "option-" + option.name.replace("_", "-")
        assert browser.execute_script(f"return !!document.getElementById('{anchor}')")
