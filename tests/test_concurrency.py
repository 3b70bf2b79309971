"""One serializer and one app shared by many threads, and by forked workers (gunicorn --preload).

Free-threaded CPython: tests/test_threads.py, run by CI's free-threaded 3.14t job.
"""

import base64
import os
import traceback

import pytest
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer

from .helpers import SECRET, run_together, session_app, set_cookie_value

THREADS = 16
CYCLES_PER_THREAD = 1500


@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_threads_sharing_one_serializer_each_get_back_their_own_values(serializer, busy_switching):
    shared = EncryptedSerializer(SECRET, serializer)
    cookies = [[] for _ in range(THREADS)]

    def work(index):
        for i in range(CYCLES_PER_THREAD):
            # Sizes differ per thread and per call, so a mixed-up buffer cannot go unnoticed.
            value = [index, i, {"thread": index, "pad": "x" * ((index * 7 + i) % 300)}]
            cookie = shared.dumps(value)
            assert shared.loads(cookie) == value
            cookies[index].append(cookie)

    run_together(THREADS, work)

    every = [c for per_thread in cookies for c in per_thread]
    assert len(set(every)) == THREADS * CYCLES_PER_THREAD
    # Each thread draws nonces from its own buffer: none may be handed to two threads.
    assert len({nonce_of(c) for c in every}) == len(every)
    for index, per_thread in enumerate(cookies):
        for i in (0, CYCLES_PER_THREAD // 2, CYCLES_PER_THREAD - 1):
            assert shared.loads(per_thread[i])[:2] == [index, i]


def counter_app():
    def bump(config):
        def view(request):
            request.session["n"] = request.session.get("n", 0) + 1
            return {"n": request.session["n"]}

        config.add_route("bump", "/bump")
        config.add_view(view, route_name="bump", renderer="json")

    return session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"), bump).app


def test_threads_with_their_own_clients_of_one_app_keep_their_own_sessions(busy_switching):
    app = counter_app()
    threads, requests = 8, 150
    finals = [None] * threads

    def work(index):
        client = TestApp(app)  # its own cookie jar
        for expected in range(1, requests + 1):
            assert client.get("/bump").json == {"n": expected}
        finals[index] = client.get("/show").json

    run_together(threads, work)
    assert finals == [{"n": requests}] * threads


WORKERS = 4
SEALS_PER_WORKER = 25_000
REQUESTS_PER_WORKER = 100


def nonce_of(cookie):
    if isinstance(cookie, str):
        cookie = cookie.encode()
    return base64.urlsafe_b64decode(cookie + b"=" * (-len(cookie) % 4))[:24]


def seal_in_child(app, shared, out_path):
    """The child's whole life: seal through the app and directly, write nonces, _exit."""
    status = 1
    try:
        with open(out_path, "wb") as out:
            client = TestApp(app)
            for _ in range(REQUESTS_PER_WORKER):
                out.write(nonce_of(set_cookie_value(client.get("/bump"))))
            out.write(b"".join(nonce_of(shared.dumps({"n": i})) for i in range(SEALS_PER_WORKER)))
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_workers_never_repeat_a_nonce(tmp_path):
    # Everything loaded and used once before the fork, as a preloading server does.
    app = counter_app()
    shared = EncryptedSerializer(SECRET, "json")
    parent_nonces = [
        nonce_of(shared.dumps({})),
        nonce_of(set_cookie_value(TestApp(app).get("/bump"))),
    ]

    children = {}
    for worker in range(WORKERS):
        path = tmp_path / f"nonces-{worker}"
        pid = os.fork()
        if pid == 0:
            seal_in_child(app, shared, path)  # never returns
        children[pid] = path

    nonces = list(parent_nonces)
    for pid, path in children.items():
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"worker {pid} failed (see its stderr)"
        data = path.read_bytes()
        assert len(data) == 24 * (REQUESTS_PER_WORKER + SEALS_PER_WORKER)
        nonces.extend(data[i : i + 24] for i in range(0, len(data), 24))

    assert len(nonces) == 2 + WORKERS * (REQUESTS_PER_WORKER + SEALS_PER_WORKER)
    assert len(set(nonces)) == len(nonces)


SEALS_AT_ONCE = 5_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_a_forked_child_and_its_parent_sealing_at_once_never_share_a_nonce(serializer):
    shared = EncryptedSerializer(SECRET, serializer)
    # The parent's nonces are buffered when it forks: the child must not get the same ones.
    before = nonce_of(shared.dumps({}))
    go_read, go_write = os.pipe()
    out_read, out_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(go_write)
            os.close(out_read)
            os.read(go_read, 1)  # released together with the parent's loop
            nonces = b"".join(nonce_of(shared.dumps({"n": i})) for i in range(SEALS_AT_ONCE))
            with os.fdopen(out_write, "wb") as out:
                out.write(nonces)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(go_read)
    os.close(out_write)
    os.write(go_write, b"x")
    ours = [nonce_of(shared.dumps({"n": i})) for i in range(SEALS_AT_ONCE)]
    with os.fdopen(out_read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    os.close(go_write)
    assert os.waitstatus_to_exitcode(status) == 0, "the child failed (see its stderr)"
    theirs = [data[i : i + 24] for i in range(0, len(data), 24)]
    assert len(theirs) == SEALS_AT_ONCE
    every = [before, *ours, *theirs]
    assert len(set(every)) == len(every)
