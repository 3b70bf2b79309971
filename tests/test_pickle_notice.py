"""A factory left on 1.0's default serializer (pickle) says so once, when it is made: never on a
request, and never when a serializer is chosen."""

import logging

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, generate_secret

KEY = generate_secret().decode("ascii")


def notices(caplog):
    return [
        r for r in caplog.records if r.name == "pyramid_nacl_session" and "pickled" in r.message
    ]


def app(factory):
    def view(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return request.response

    with Configurator() as config:
        config.set_session_factory(factory)
        config.add_route("home", "/")
        config.add_view(view, route_name="home")
    return TestApp(config.make_wsgi_app())


def test_a_factory_without_serializer_logs_one_warning_when_made(caplog):
    caplog.set_level(logging.DEBUG, logger="pyramid_nacl_session")
    factory = EncryptedCookieSessionFactory(KEY)
    [record] = notices(caplog)
    assert record.levelno == logging.WARNING
    assert "serializer = json" in record.getMessage()
    assert "migrate_pickle" in record.getMessage()
    assert KEY not in record.getMessage()

    browser = app(factory)
    for _ in range(3):
        browser.get("/")
    assert len(notices(caplog)) == 1


def test_each_factory_says_it_once(caplog):
    caplog.set_level(logging.DEBUG, logger="pyramid_nacl_session")
    EncryptedCookieSessionFactory(KEY)
    EncryptedCookieSessionFactory(KEY)
    assert len(notices(caplog)) == 2


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_a_chosen_serializer_logs_nothing(caplog, serializer):
    caplog.set_level(logging.DEBUG, logger="pyramid_nacl_session")
    app(EncryptedCookieSessionFactory(KEY, serializer=serializer)).get("/")
    assert notices(caplog) == []


def test_settings_without_serializer_log_it_at_start_up(caplog):
    caplog.set_level(logging.DEBUG, logger="pyramid_nacl_session")
    with Configurator(settings={"session.secret": KEY}) as config:
        config.include("pyramid_nacl_session")
    assert len(notices(caplog)) == 1
    with Configurator(settings={"session.secret": KEY, "session.serializer": "json"}) as config:
        config.include("pyramid_nacl_session")
    assert len(notices(caplog)) == 1
