"""Reading an app's settings from its Paste .ini file, through the app's own settings reader
(``pyramid_nacl_session.settings``), so that the command line and the app never disagree on what
a setting means."""

import configparser
import os
import warnings
from collections.abc import Mapping
from typing import Any, Optional

from ..options import OptionError
from ..settings import read_settings, session_factory_from_settings
from .base import UsageError


def app_settings(path: str, app: Optional[str]) -> "tuple[Mapping[str, Any], str]":
    """The app's settings from a Paste .ini file, and how to name where they came from."""
    with warnings.catch_warnings():
        # pyramid.paster imports pkg_resources (through pyramid.asset), which setuptools 67 to
        # 81 warns about, as a UserWarning attributed to Pyramid's module, on every start: not
        # the operator's to act on, and it would land in the output of `decode` and `revoke`.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pyramid\.")
        from pyramid.paster import get_appsettings

    if not os.path.isfile(path.split("#", 1)[0]):
        raise UsageError("--ini: no such file")  # not the path: maybe a key typed there
    # name=None reads [app:main], or the section named in 'FILE#name'.
    where = f"{path} [app:{app or 'main'}]"
    try:
        settings = get_appsettings(path, name=app)
    except configparser.Error as e:
        raise UsageError(f"--ini: {path} is not a valid .ini file: {_reason(e)}") from None
    except ImportError as e:
        raise UsageError(
            f"--ini: the app that 'use =' names in {where} cannot be imported (module "
            f"{e.name!r}): --ini loads the app, so it must be importable where this command "
            "runs, as pserve had it: installed, or its directory on PYTHONPATH (PYTHONPATH=. "
            "for an app beside the .ini file)"
        ) from None
    except LookupError:  # PasteDeploy's message quotes --app, which may be a mistyped key
        raise UsageError(
            f"--ini: {path} has no such app section, or its 'use =' names no app"
        ) from None
    except Exception as e:  # PasteDeploy raises ValueError and others, about 'use =' lines
        raise UsageError(f"--ini: cannot read the app settings of {where}: {e}") from None
    return settings, where


def app_options(
    path: str, app: Optional[str], *, make_factory: bool = False, need_secret: bool = True
) -> "tuple[dict[str, Any], dict[str, str], str]":
    """The app's session options, read and checked as the app reads them; the setting each was
    read from; and how to name where they came from. With ``make_factory``, the app's session
    factory is made too, so that the rules between options are checked as at the app's start;
    without ``need_secret``, the settings may name no key (``decode --signed`` needs none)."""
    settings, where = app_settings(path, app)
    try:
        options, names = read_settings(settings, need_secret=need_secret)
        if make_factory:
            session_factory_from_settings(settings)
    except OptionError as e:  # names the setting; a key's message never holds the key
        raise UsageError(f"--ini: {where}: {e}") from None
    return options, names, where


def _reason(error: configparser.Error) -> str:
    """configparser's reason, from the error's kind and the names it carries: its message quotes
    the offending value or line, which may hold a key or a password."""
    option = getattr(error, "option", None)
    where = f"{option} in [{error.section}]" if option and hasattr(error, "section") else ""
    if isinstance(error, configparser.InterpolationSyntaxError):
        return (
            f"{where}: '%' must be followed by '%' or '(' (configparser's interpolation); write "
            "a literal '%' as '%%', so a percent-encoded character such as %23 is %%23"
        )
    if isinstance(error, configparser.InterpolationMissingOptionError):
        return f"{where}: %({error.reference})s names no setting of its section or [DEFAULT]"
    if isinstance(error, configparser.InterpolationDepthError):
        return f"{where}: %(...)s references nested too deeply (a loop?)"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"{error.option} in [{error.section}] is given twice (line {error.lineno})"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"[{error.section}] is given twice (line {error.lineno})"
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [section] header"
    lines = sorted({n for n, _ in getattr(error, "errors", [])})
    if lines:
        return f"line {', '.join(map(str, lines))} is not 'name = value' (nor a section or comment)"
    return type(error).__name__
