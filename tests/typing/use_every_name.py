"""Uses every public name the way an application would, for ``mypy --strict`` to check the
stubs and annotations against. Run by test_mypy.py; it is type-checked, not executed."""

from typing import Any, Callable

from pyramid.config import Configurator
from pyramid.session import JSONSerializer, PickleSerializer

import pyramid_nacl_session
from pyramid_nacl_session import (
    CookieTooLarge,
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    OptionError,
    generate_secret,
    includeme,
    session_factory_from_settings,
)
from pyramid_nacl_session.cli import main as cli_main
from pyramid_nacl_session.scripts import generate_secret as generate_secret_1_0_path
from pyramid_nacl_session.scripts import print_secret
from pyramid_nacl_session.serializer import EncryptedSerializer as Serializer_1_0_path


class UpperJSON:
    """An app's own inner serializer: anything with loads(bytes) and dumps(obj) -> bytes."""

    def loads(self, bstruct: bytes) -> Any:
        return JSONSerializer().loads(bstruct.lower())

    def dumps(self, appstruct: Any) -> bytes:
        data: bytes = JSONSerializer().dumps(appstruct)
        return data.upper()


def every_secret_form() -> list[EncryptedSerializer]:
    hex_bytes: bytes = generate_secret()
    raw: bytes = generate_secret(as_hex=False)
    hex_str: str = generate_secret().decode("ascii")
    old_keys: list[str] = [hex_str, generate_secret_1_0_path().decode("ascii")]
    return [
        EncryptedSerializer(raw),
        EncryptedSerializer(hex_bytes),
        EncryptedSerializer(hex_str),
        EncryptedSerializer(bytearray(raw)),
        EncryptedSerializer(memoryview(raw)),
        EncryptedSerializer([hex_str, raw]),
        EncryptedSerializer((hex_bytes, raw)),
        EncryptedSerializer(old_keys),
        Serializer_1_0_path(raw),
    ]


def every_serializer_kind(secret: bytes) -> list[EncryptedSerializer]:
    return [
        EncryptedSerializer(secret),
        EncryptedSerializer(secret, None),
        EncryptedSerializer(secret, "pickle"),
        EncryptedSerializer(secret, "json"),
        EncryptedSerializer(secret, "json", migrate_pickle=True),
        EncryptedSerializer(secret, serializer=PickleSerializer()),
        EncryptedSerializer(secret, serializer=JSONSerializer()),
        EncryptedSerializer(secret, serializer=UpperJSON()),
    ]


def round_trip(serializer: EncryptedSerializer) -> dict[str, Any]:
    cookie: bytes = serializer.dumps((0.0, 0.0, {"user": "ann"}))
    try:
        state_, renewed, created_, key_index, migrated = serializer.open_session(cookie)
        if key_index != 0 or migrated:
            cookie = serializer.dumps((renewed, created_, state_))
        accessed, created, state = serializer.loads(cookie.decode("ascii"))
    # The cookie errors through the package's attributes, as an app that imports the package
    # alone writes them.
    except pyramid_nacl_session.MalformedCookie:
        return {"error": "bad base64"}
    except pyramid_nacl_session.CookieTooShort:
        return {"error": "too short"}
    except pyramid_nacl_session.DecryptionFailed:
        return {"error": "wrong key or tampered"}
    except pyramid_nacl_session.RefusedPickle:
        return {"error": "a pickle that is not plain data"}
    except pyramid_nacl_session.BadPayload as e:
        return {"error": str(e)}
    except pyramid_nacl_session.BadSignature:
        return {"error": "a signed cookie that did not verify"}
    except pyramid_nacl_session.CookieError:
        return {"error": "unreadable"}
    name: str = serializer.serializer_name
    count: int = serializer.key_count
    migrating: bool = serializer.migrate_pickle
    own = serializer.serializer
    return {"state": state, "name": name, "keys": count, "migrating": migrating, "own": own}


def every_option() -> Callable[[Any], Any]:
    return EncryptedCookieSessionFactory(
        [generate_secret(), generate_secret()],
        cookie_name="session",
        max_age=3600,
        path="/",
        domain="example.com",
        secure=True,
        httponly=True,
        timeout=1200,
        reissue_time=120,
        set_on_exception=False,
        serializer="json",
        samesite="Strict",
        absolute_timeout=8 * 3600,
        migrate_pickle=True,
    )


def tracking_sessions() -> Callable[[Any], Any]:
    return EncryptedCookieSessionFactory(
        generate_secret(),
        absolute_timeout=3600,
        revocation_url="redis://127.0.0.1:6379/0",
        revocation_user=lambda state: state.get("user"),
        track_sessions=True,
        track_sessions_label=lambda request: request.user_agent,
    )


def log_in(request: Any) -> None:
    request.session.regenerate()


def store(request: Any, key: str, value: Any) -> bool:
    try:
        request.session[key] = value
    except pyramid_nacl_session.ReservedKeyError:
        return False
    return True


def moving_off_signed_cookies() -> Callable[[Any], Any]:
    import datetime

    return EncryptedCookieSessionFactory(
        generate_secret(),
        migrate_signed_secret="the old signing secret",
        migrate_signed_salt="pyramid.session.",
        migrate_signed_hashalg="sha512",
        migrate_signed_serializer=PickleSerializer(),
        migrate_signed_cookie_name="session",
        migrate_signed_timeout=None,
        migrate_signed_until=datetime.date(2027, 3, 31),
    )


def defaults_and_none() -> list[Callable[[Any], Any]]:
    return [
        EncryptedCookieSessionFactory(generate_secret()),
        EncryptedCookieSessionFactory(
            generate_secret(),
            max_age=None,
            path=None,
            domain=None,
            timeout=None,
            reissue_time=None,
            serializer=UpperJSON(),
            samesite=None,
            absolute_timeout=None,
        ),
    ]


def from_settings() -> Callable[[Any], Any]:
    settings = {
        "session.secret": generate_secret().decode("ascii"),
        "pynacl.session.serializer": "json",
        "session.timeout": "1200",
    }
    return session_factory_from_settings(settings)


def configure(settings: dict[str, str]) -> Any:
    config = Configurator(settings=settings)
    includeme(config)
    config.include("pyramid_nacl_session")
    try:
        config.set_session_factory(from_settings())
    except CookieTooLarge as e:
        size: int = e.size
        limit: int = e.limit
        raise SystemExit(f"{e} ({size} > {limit})") from e
    return config.make_wsgi_app()


def commands() -> int:
    return print_secret([]) or cli_main(["secret"])


def version() -> str:
    return pyramid_nacl_session.__version__


def names() -> list[str]:
    return list(pyramid_nacl_session.__all__)


def mistakes_mypy_catches(secret: bytes) -> None:
    # Each line must be an error: under --strict an ignore that silences nothing is one too.
    EncryptedSerializer(42)  # type: ignore[arg-type]
    EncryptedSerializer(secret, "yaml")  # type: ignore[arg-type]
    EncryptedSerializer(secret, object())  # type: ignore[arg-type]
    # Too many positional arguments: mypy 1.19 (the last on Python 3.9) files it under [misc],
    # later ones under [call-arg]; a bare ignore still fails --strict if the line is no error.
    EncryptedSerializer(secret, "json", True)  # type: ignore
    EncryptedCookieSessionFactory(secret, 1200)  # type: ignore[arg-type]
    EncryptedCookieSessionFactory(secret, timeout="20 minutes")  # type: ignore[arg-type]
    # absolute_timeout and migrate_pickle are keyword-only.
    EncryptedCookieSessionFactory(  # type: ignore
        secret, "s", None, "/", None, False, False, 1200, 0, True, None, "Lax", None
    )
    generate_secret().encode()  # type: ignore[attr-defined]


def named_option(settings: dict[str, str]) -> str:
    try:
        session_factory_from_settings(settings)
    except OptionError as e:
        option: str = e.option
        reason: str = e.reason
        return f"{option}: {reason}"
    return ""
