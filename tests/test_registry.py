"""The option records (registry.py): one rule for each option whichever way it arrives (a
keyword of the factory, or a setting's text read by a real app's ``config.include``), the
factory's signature and the docs made from or held to the records, and option errors that
never quote the value given."""

import inspect
import pathlib
import re

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import (
    CookieTooLarge,
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    OptionError,
)
from pyramid_nacl_session._core import RevocationSet, SignedCookieReader
from pyramid_nacl_session.registry import OPTIONS, REQUIRED

from .helpers import SECRET, add_json_views

HEX = SECRET.hex()
DOCS = pathlib.Path(__file__).parent.parent / "docs"


def from_python(**options):
    return EncryptedCookieSessionFactory(SECRET, **options)


def from_ini(**options):
    """The factory a real app makes from its settings, through ``config.include``."""
    settings = {"session.secret": HEX, **{f"session.{k}": v for k, v in options.items()}}
    config = Configurator(settings=settings)
    config.include("pyramid_nacl_session")
    config.commit()
    from pyramid.interfaces import ISessionFactory

    return config.registry.getUtility(ISessionFactory)


def set_cookie(factory):
    config = Configurator()
    config.set_session_factory(factory)

    def put(request):
        request.session["a"] = 1
        return {}

    add_json_views(config, put)
    return TestApp(config.make_wsgi_app()).get("/put").headers["Set-Cookie"]


BOTH = pytest.mark.parametrize("make", [from_python, from_ini], ids=["python", "ini"])


# The four options that once followed a rule of their own on each path.


@BOTH
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_samesite_sends_no_attribute_from_either_path(make, empty):
    header = set_cookie(make(samesite=empty))
    assert "samesite" not in header.lower()


@BOTH
def test_an_empty_revocation_url_is_off_from_either_path(make):
    factory = make(revocation_url="")
    assert factory.revocation is None


@BOTH
def test_migrate_signed_options_at_their_defaults_need_no_secret_from_either_path(make):
    factory = make(
        migrate_signed_salt="pyramid.session.",
        migrate_signed_hashalg="SHA512",
        migrate_signed_serializer="json",
        migrate_signed_timeout="1200",
    )
    assert factory._migrate_signed is None


@BOTH
def test_a_migrate_signed_option_off_its_default_needs_the_secret_from_either_path(make):
    with pytest.raises(OptionError, match="set without") as info:
        make(migrate_signed_salt="my.salt.")
    assert info.value.option.endswith("migrate_signed_salt")


@BOTH
@pytest.mark.parametrize("name", ["json", "JSON", " json ", "Json"])
def test_serializer_names_are_read_alike_from_either_path(make, name):
    factory = make(serializer=name)
    assert factory._serializer.loads(factory._serializer.dumps({"a": [1]})) == {"a": [1]}
    # JSON natively: a set is refused, as json.dumps refuses it.
    with pytest.raises(TypeError):
        factory._serializer.dumps({"a": {1}})


class Upper:
    """A serializer named by its dotted name (a class: made without arguments)."""

    def dumps(self, appstruct):
        return repr(appstruct).upper().encode()

    def loads(self, data):
        raise ValueError("write only")


@BOTH
def test_a_dotted_serializer_name_is_resolved_from_either_path(make):
    factory = make(serializer=f"  {__name__}:Upper ")
    assert factory._serializer.dumps({"a": 1}) != EncryptedSerializer(SECRET).dumps({"a": 1})
    assert set_cookie(factory)


@BOTH
def test_the_signed_serializer_takes_any_case_as_serializer_does(make):
    make(migrate_signed_secret="old", migrate_signed_serializer="JSON", serializer="JSON")


# No option error quotes the value: a key pasted into the wrong line must not reach the logs.

MARKER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
LEAKY = {
    "samesite": MARKER,
    "serializer": MARKER,
    "revocation_policy": MARKER,
    "timeout": MARKER,
    "max_age": MARKER,
    "reissue_time": "1." + MARKER,
    "migrate_signed_hashalg": MARKER,
    "migrate_signed_until": MARKER,
    "migrate_signed_serializer": MARKER,
    "cookie_name": "path" + MARKER + " x",
    "path": "/" + MARKER + " x",
    "domain": MARKER + "!",
    "secure": MARKER,
    "partitioned": MARKER,
    "revocation_stale_after": MARKER,
    "revocation_prefix": MARKER + " x",
    "revocation_user": "no.such.module" + MARKER + ":f",
    "track_sessions": MARKER,
    "track_sessions_label": "no.such.module" + MARKER + ":f",
    "detect_changes": MARKER,
    "migrate_pickle": MARKER,
    "absolute_timeout": MARKER,
    "revocation_resync": MARKER,
    "httponly": MARKER,
    "set_on_exception": MARKER,
    "migrate_signed_cookie_name": "a" + MARKER + " x",
    "migrate_signed_timeout": MARKER,
    "secret_env": MARKER,
    "revocation_url": "http://:" + MARKER + "@redis.internal/0",
}
#: What an option needs beside it for its own check to be reached.
BESIDE = {"revocation_url": {"absolute_timeout": 60}}


@BOTH
@pytest.mark.parametrize("option", sorted(LEAKY))
def test_no_option_error_quotes_the_value(make, option):
    with pytest.raises(OptionError) as info:
        make(**{option: LEAKY[option]}, **BESIDE.get(option, {}))
    assert info.value.option.endswith(option)
    assert MARKER not in str(info.value) and MARKER not in info.value.reason
    assert MARKER not in repr(info.value)


def test_a_signing_secret_with_a_semicolon_is_taken_as_written(tmp_path):
    # The old factory's secret is any text: " ;" in it is not an inline comment.
    secret = "old secret ;with # marks"
    factory = from_ini(migrate_signed_secret=secret)
    assert factory._migrate_signed is not None
    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\nuse = egg:session_demo\n"
        f"session.secret = {HEX}\nsession.migrate_signed_secret = {secret}\n"
    )
    from pyramid_nacl_session.cli.ini import app_options

    try:
        options, _, _ = app_options(str(ini), None)
    except Exception as e:  # the example app is not installed here
        pytest.skip(f"example app: {type(e).__name__}")
    assert options["migrate_signed_secret"] == secret


def test_a_comment_after_another_setting_is_still_refused():
    with pytest.raises(OptionError, match="inline comment") as info:
        from_ini(path="/app ; where it lives")
    assert info.value.option == "session.path"


# The signature, the docstring and the docs agree with the records.


def test_the_factory_signature_is_the_records():
    parameters = list(inspect.signature(EncryptedCookieSessionFactory).parameters.values())
    assert [p.name for p in parameters] == [o.name for o in OPTIONS]
    for parameter, option in zip(parameters, OPTIONS):
        default = inspect.Parameter.empty if option.default is REQUIRED else option.default
        assert parameter.default == default, option.name
        kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD
            if option.positional
            else inspect.Parameter.KEYWORD_ONLY
        )
        assert parameter.kind == kind, option.name


def test_the_session_class_defaults_are_a_default_factorys():
    # EncryptedCookieSession keeps Pyramid's attribute names with defaults of its own (Pyramid's
    # shared session tests set them per instance); each factory's class sets them from the
    # records. Both must agree, so that the base class never holds a second set of defaults.
    from pyramid_nacl_session.session import EncryptedCookieSession

    factory = from_python()
    attrs = [
        name
        for name in vars(factory)
        if name.startswith(("_cookie_", "_timeout", "_reissue_time", "_absolute_timeout"))
    ]
    assert len(attrs) == 12
    assert {a: getattr(EncryptedCookieSession, a) for a in attrs} == {
        a: getattr(factory, a) for a in attrs
    }


def test_the_docstring_names_every_option_with_its_default():
    doc = EncryptedCookieSessionFactory.__doc__
    for option in OPTIONS:
        assert f"``{option.name}``\n" in doc
        assert f"Default: {option.shown_default()}." in " ".join(doc.split())


def test_the_options_page_lists_the_records():
    # The page takes its list from the records (a directive in docs/conf.py): every option has
    # its section, in the records' order, and no option is written into the page by hand.
    page = (DOCS / "options.rst").read_text()
    assert ".. pyramid-nacl-options::" in page
    assert "list-table" not in page
    from pyramid_nacl_session.registry import rst

    text = "\n".join(rst())
    titles = re.findall(r"^``(\w+)``\n~+$", text, re.M)
    assert titles == [o.name for o in OPTIONS]
    for option in OPTIONS:
        assert f":Setting: ``session.{option.name}``" in text


def test_the_built_options_page_has_every_option(tmp_path):
    sphinx = pytest.importorskip("sphinx.cmd.build")
    out = tmp_path / "html"
    status = sphinx.build_main(["-q", "-b", "html", str(DOCS), str(out)])
    assert status == 0
    html = (out / "options.html").read_text()
    for option in OPTIONS:
        assert f'id="option-{option.name.replace("_", "-")}"' in html, option.name


# Bad option values from the core are OptionError too, with .option.


def test_the_core_raises_option_error_for_bad_options():
    with pytest.raises(OptionError) as info:
        SignedCookieReader("")
    assert info.value.option == "secret"
    with pytest.raises(OptionError) as info:
        SignedCookieReader("s", hashalg="md5")
    assert info.value.option == "hashalg"
    with pytest.raises(OptionError) as info:
        SignedCookieReader("s", serializer="yaml")
    assert info.value.option == "serializer"
    with pytest.raises(OptionError) as info:
        SignedCookieReader("s", salt=1)
    assert info.value.option == "salt"
    revocations = RevocationSet(60)
    with pytest.raises(OptionError) as info:
        revocations.revoke_session("x", 1.0)
    assert info.value.option == "session"
    with pytest.raises(OptionError) as info:
        revocations.revoke_user("ann", float("nan"))
    assert info.value.option == "cutoff"
    with pytest.raises(OptionError) as info:
        revocations.revoke_created(float("inf"), 1.0)
    assert info.value.option == "created"
    with pytest.raises(OptionError) as info:
        EncryptedSerializer(b"short")
    assert info.value.option == "secret"


def test_cookie_too_large_carries_size_and_limit_from_either_side():
    # From the core: JSON that would outgrow any cookie (shared data, written out).
    shared: list = []
    for _ in range(40):
        shared = [shared, shared]
    with pytest.raises(CookieTooLarge) as info:
        EncryptedSerializer(SECRET, "json").dumps({"a": shared})
    assert info.value.size > info.value.limit > 4096
    # From the session: a cookie over the browsers' 4096 bytes.
    factory = from_python(serializer="json")
    config = Configurator()
    config.set_session_factory(factory)

    def put(request):
        request.session["big"] = "x" * 5000
        return {}

    add_json_views(config, put)
    with pytest.raises(CookieTooLarge) as info:
        TestApp(config.make_wsgi_app()).get("/put")
    assert info.value.limit == 4096 and info.value.size > 4096
    assert type(info.value) is CookieTooLarge


@BOTH
def test_a_rule_names_the_option_furthest_along_the_chain(make):
    # track_sessions needs revocation_user, which needs revocation_url: the error names the one
    # the author set last in the chain, from either path.
    with pytest.raises(OptionError) as info:
        make(track_sessions="true", revocation_user="user")
    assert info.value.option.endswith("track_sessions")
    assert "revocation_url" in info.value.reason
