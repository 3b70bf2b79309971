"""The native module's shape: what it exports publicly, what it keeps for the tests, and where
its classes say they live."""

import importlib

import pyramid_nacl_session._core as core

TEST_ONLY = ["find_cookie", "is_revoked"]


def test_the_public_core_exports_no_test_only_name():
    assert not hasattr(core.RevocationSet, "is_revoked")
    for name in TEST_ONLY:
        assert name not in core.__all__
        assert not hasattr(core, name)


def test_the_test_only_names_are_imported_from_core_testing():
    testing = importlib.import_module("pyramid_nacl_session._core._testing")
    assert testing is core._testing
    assert sorted(testing.__all__) == sorted(TEST_ONLY)
    assert testing.find_cookie("a=1; session=v", "session") == "v"
    assert "_testing" not in core.__all__


def test_every_native_class_says_it_lives_in_the_core_module():
    classes = [
        getattr(core, name)
        for name in core.__all__
        if isinstance(getattr(core, name), type)
        and not issubclass(getattr(core, name), BaseException)
    ]
    assert len(classes) >= 5
    assert {cls.__qualname__: cls.__module__ for cls in classes} == {
        cls.__qualname__: "pyramid_nacl_session._core" for cls in classes
    }
