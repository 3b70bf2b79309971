"""The Redis a ``revocation_url`` names, and what its faults mean: the URL checked (``redis://``,
``rediss://``, ``unix://`` or ``redis+sentinel://``), a client for it that never shows its
password, whether a fault passes (retry) or not, and a line that names its cause and where.

``redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]`` names a primary
through Redis Sentinel (redis-py's :class:`redis.sentinel.Sentinel`): the hosts are sentinels,
``service`` is the name they monitor, the credentials are the primary's. A query string is
passed to the connections as in a ``redis://`` URL (``?ssl=true&ssl_ca_certs=/path/ca.pem`` for
TLS to the primary; ``rediss://host/0?ssl_ca_certs=/path/ca.pem`` without Sentinel).
"""

from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

try:
    import redis
    import redis.backoff
    import redis.retry
    import redis.sentinel
except ModuleNotFoundError as e:
    if e.name != "redis":
        raise
    raise ModuleNotFoundError(
        "revocation_url needs redis-py, which is not installed: "
        "pip install 'pyramid-nacl-session[redis]'",
        name="redis",
    ) from None

from .options import OptionError

# redis itself too: the package's other modules import it from here, so that a missing redis-py
# is always reported as above.
__all__ = [
    "NotReplicated",
    "RedisURL",
    "check_url",
    "describe_fault",
    "error_code",
    "is_transient",
    "redis",
]


class _BadURL(ValueError):
    """What is wrong with a ``redis+sentinel://`` URL, in words that never quote it."""


SENTINEL_SCHEME = "redis+sentinel"
SCHEMES = ("redis", "rediss", "unix", SENTINEL_SCHEME)


class NotReplicated(redis.ConnectionError):
    """A write the primary took but no replica confirmed in time: a failover could lose it, so
    it counts as not written (and a rewrite changes nothing)."""


#: Error codes (the first word of a Redis error reply, RESP's own field) of refusals that pass
#: by themselves: a primary out of memory or short of replicas, a replica being promoted or
#: still loading, a failed save, a script running. Retried like a lost connection.
TRANSIENT_CODES = frozenset(
    {"OOM", "READONLY", "NOREPLICAS", "MISCONF", "MASTERDOWN", "LOADING", "BUSY", "TRYAGAIN"}
)

#: What each transient code means, for the log line.
_CAUSES = {
    "OOM": "out of memory",
    "READONLY": "read-only (a replica, or a primary being demoted)",
    "NOREPLICAS": "short of replicas (min-replicas-to-write)",
    "MISCONF": "refusing writes after a failed save (MISCONF)",
    "MASTERDOWN": "a replica that lost its primary",
    "LOADING": "loading its data",
    "BUSY": "busy running a script",
    "TRYAGAIN": "asking to try again",
}


def error_code(exc: BaseException) -> Optional[str]:
    """The error code of a Redis error reply: redis-py keeps it as ``status_code`` (5.3+), or
    as the reply's first word when it has no class of its own."""
    code = getattr(exc, "status_code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return "OOM"
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return "READONLY"
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "LOADING"
    # Some redis-py releases (7.0 among them) give these replies classes of their own and no
    # status_code.
    if isinstance(exc, getattr(redis.exceptions, "MasterDownError", ())):
        return "MASTERDOWN"
    if isinstance(exc, getattr(redis.exceptions, "TryAgainError", ())):
        return "TRYAGAIN"
    if isinstance(exc, redis.ResponseError) and exc.args and isinstance(exc.args[0], str):
        # RESP: an error reply is "-CODE text"; the code is the protocol's, not prose.
        word = exc.args[0].split(" ", 1)[0]
        if word.isupper():
            return word
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` passes by itself (Redis unreachable, or a refusal that a failover, a
    freed byte or a finished load ends): the write is kept and tried again. Anything else is a
    refusal of what was sent."""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return True
    return isinstance(exc, redis.RedisError) and error_code(exc) in TRANSIENT_CODES


def describe_fault(exc: Optional[BaseException], where: str) -> str:
    """``exc`` as a log line: its cause and ``where`` (host:port), never its text, which may
    quote the URL and its password."""
    if exc is None:
        return f"Redis at {where} did not answer in time"
    name = type(exc).__name__
    if isinstance(exc, redis.AuthenticationError):
        return f"Redis at {where} refused the credentials ({name})"
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return f"Redis at {where} refused a command to this user (ACL, {name})"
    code = error_code(exc)
    if code in _CAUSES:
        return f"Redis at {where} is {_CAUSES[code]} ({code})"
    if isinstance(exc, redis.TimeoutError):
        return f"Redis at {where} did not answer in time ({name})"
    if isinstance(exc, NotReplicated):
        return f"no replica of Redis at {where} confirmed the write in time ({name})"
    if isinstance(exc, redis.sentinel.MasterNotFoundError):
        return f"no sentinel at {where} names a primary ({name})"
    if isinstance(exc, (redis.ConnectionError, OSError)):
        return f"Redis at {where} is unreachable ({name})"
    if code is not None:
        return f"Redis at {where} refused a write ({code})"
    return f"Redis at {where} failed ({name})"


class RedisURL:
    """A Redis URL that never shows its password: ``repr`` (and so ``vars()`` of the store)
    names the host only. ``where`` is what a log line names: ``host:port``, the socket's
    path, or the sentinels and their service."""

    __slots__ = ("_text", "where", "sentinel")

    def __init__(self, text: str) -> None:
        self._text = text
        parts = urlsplit(text)
        self.sentinel = parts.scheme == SENTINEL_SCHEME
        if self.sentinel:
            hosts, service, _ = _sentinel_parts(parts)
            self.where = f"sentinels {','.join(f'{h}:{p}' for h, p in hosts)} (service {service})"
        elif parts.scheme == "unix":
            self.where = parts.path
        else:
            self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"

    def __repr__(self) -> str:
        return f"<RedisURL {self.where}>"

    def client(self, timeout: float) -> "redis.Redis":
        """A client whose commands and connects give up after ``timeout`` seconds. Through
        Sentinel, each new connection asks the sentinels where the primary is, so a client made
        after a failover talks to the new one."""
        # RESP2: the load reads raw ZREVRANGE replies as a flat list. One retry inside redis-py,
        # at once (from 6.0 it retries a failed command 3 times, backing off up to 10 s, which
        # held up following a failover by seconds): past it, the store's threads retry on their
        # own terms, reconnecting (through the sentinels, so to a new primary) and resyncing.
        common: dict[str, Any] = dict(
            protocol=2,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1),
        )
        if not self.sentinel:
            return redis.Redis.from_url(self._text, **common)
        parts = urlsplit(self._text)
        hosts, service, db = _sentinel_parts(parts)
        kwargs = _query(parts.query)
        if parts.username:
            kwargs["username"] = unquote(parts.username)
        if parts.password:
            kwargs["password"] = unquote(parts.password)
        sentinel = redis.sentinel.Sentinel(
            hosts,
            sentinel_kwargs={
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "retry": common["retry"],
            },
            **common,
        )
        client: redis.Redis = sentinel.master_for(service, db=db, **kwargs)
        return client


def _sentinel_parts(parts: Any) -> "tuple[list[tuple[str, int]], str, int]":
    """``([(host, port), ...], service, db)`` of a ``redis+sentinel://`` URL; ``ValueError``
    (without the URL) when it is not one."""
    hosts = []
    for item in parts.netloc.rpartition("@")[2].split(","):
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, "26379"
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _BadURL("expected host:port for each sentinel")
        hosts.append((host, int(port)))
    path = [unquote(p) for p in parts.path.split("/")[1:]]
    if not path or not path[0] or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise _BadURL("expected /service or /service/db after the sentinels")
    return hosts, path[0], int(path[1]) if len(path) == 2 else 0


def _query(text: str) -> "dict[str, Any]":
    """The query string's connection options, parsed as redis-py parses a ``redis://`` URL's."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS

    kwargs: dict[str, Any] = {}
    for name, values in parse_qs(text).items():
        parser: Any = URL_QUERY_ARGUMENT_PARSERS.get(name)
        kwargs[name] = parser(values[0]) if parser else values[0]
    if kwargs.pop("ssl", "false") in ("true", "1", "yes", True):
        kwargs["connection_class"] = redis.sentinel.SentinelManagedSSLConnection
    return kwargs


def check_url(url: Any, name: str) -> str:
    """A ``redis://``, ``rediss://``, ``unix://`` or ``redis+sentinel://`` URL; raises
    :class:`OptionError` naming ``name`` (and never quoting the URL) when it is not one."""
    if not isinstance(url, str) or not url.strip():
        raise OptionError(name, f"expected a redis:// URL, got {type(url).__name__}")
    url = url.strip()
    try:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise OptionError(
                name, "expected a redis://, rediss://, unix:// or redis+sentinel:// URL"
            )
        if parts.scheme == SENTINEL_SCHEME:
            _sentinel_parts(parts)
            _query(parts.query)
        else:
            redis.ConnectionPool.from_url(url)
    except OptionError:
        raise
    except _BadURL as e:
        raise OptionError(name, f"not a redis+sentinel:// URL: {e}") from None
    except (ValueError, TypeError):
        # redis-py's message may quote the URL, password included: say only what is wrong.
        raise OptionError(name, "not a URL redis-py can use") from None
    return str(url)
