"""``engine-bench serve``: the engine behind HTTP, for tools that are not Python.

Install the extra (``pip install 'gameplan-engine[serve]'``: FastAPI and uvicorn), then::

    engine-bench serve --port 8000 --workers 2

Endpoints (the OpenAPI description is at ``/openapi.json``, the interactive page at ``/docs``):

``POST /v1/solve``
    The body is any input ``engine-bench solve`` takes, recognised by its content: a
    ``gameplan/game``, ``gameplan/cormab``, ``gameplan/submodular`` or ``gameplan/map`` JSON
    document (``Content-Type: application/json``), a Gambit ``.nfg`` file (``text/plain``),
    GTAlign JSON Lines, or a map as PNG / ``.npy`` bytes (``application/octet-stream``).
    Options are **query parameters**: ``method``, ``time_limit`` (seconds), ``threads``,
    ``seed``, and the options of the input's kind under their CLI names with ``_`` or ``-``
    (``lam``, ``leader``, ``state``, ``planner``, ...; see ``engine-bench solve --help``).
    Options that name files on the server (``save``, ``policy``) are refused.

    200: the ``gameplan/result`` document (strict JSON: non-finite numbers are ``null``), whatever
    the result's status; the status is repeated in the ``X-Engine-Status`` header. A request cut
    at its time limit answers 200 with the best answer found so far and status ``time_limit``.
    413: the body is larger than ``--max-body-bytes``. 422: the input or an option is invalid,
    ``{"detail": {"error": "...", "field": "$['payoffs'][0]" or the option, or null}}``. 503: every
    worker is busy and the queue is full (``Retry-After``). 504: the solver did not stop within
    ``--grace`` seconds of its time limit (it keeps its worker until it ends).

``GET /v1/health``
    ``{"status": "ok", "version", "kinds", "workers", "running", "limits"}``.

``GET /v1/schemas`` / ``GET /v1/schemas/{name}``
    The JSON Schemas the engine ships (``game``, ``cormab``, ``submodular``, ``map``,
    ``result``, ``run_record``; ``gameplan/game`` works too).

Limits: every request gets a time limit (``--time-limit``, default 10 s, when it names none; at
most ``--max-time-limit``, default 60 s); at most ``--workers`` solves run at once and
``--queue`` more wait; bodies above ``--max-body-bytes`` (default 32 MiB) are refused before
they are read whole; every body then goes through the same untrusted-input checks as
``engine-bench solve`` (:mod:`engine.solve`: JSON size and nesting limits, each loader's size
limits). The server binds to 127.0.0.1 unless ``--host`` says otherwise; it has no
authentication, so put it behind one before exposing it.

FastAPI and uvicorn are imported when an app is created, never at import time.
"""


import asyncio
import ipaddress
import logging
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator, Optional

import click

from engine.errors import EngineError, InvalidInputError
from engine import __version__
from engine.schemas import schema as engine_schema, SCHEMAS
from engine.solve import field_of, load_kinds, result_document, solve_source, Source

__all__ = ["ServeConfig", "create_app", "running_server", "serve_command", "DEFAULT_MAX_BODY_BYTES"]

#: Largest request body (bytes) by default (``--max-body-bytes``).
DEFAULT_MAX_BODY_BYTES = 32 * 2**20
_COMMON = ("method", "time_limit", "time-limit", "threads", "seed")
_log = logging.getLogger("engine.serve")


@dataclass(frozen=True)
class ServeConfig:
    """The service's limits (each a ``engine-bench serve`` option).

    Attributes
    ----------
    max_body_bytes : int
        Larger bodies are answered 413.
    default_time_limit : float
        Seconds a request gets when it names no ``time_limit``.
    max_time_limit : float
        Largest ``time_limit`` a request may ask for (more is answered 422).
    workers : int
        Solves running at once (a thread pool).
    queue : int or None
        Requests that may wait for a worker (default ``4 * workers``); beyond, 503.
    grace : float
        Seconds past its time limit the server waits for a solver before answering 504.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default_time_limit: float = 10.0
    max_time_limit: float = 60.0
    workers: int = 2
    queue: Optional[int] = None
    grace: float = 5.0

    def checked(self) -> "ServeConfig":
        where = "engine-bench serve"
        if not (isinstance(self.max_body_bytes, int) and self.max_body_bytes >= 1):
            raise InvalidInputError(f"{where}: max_body_bytes must be an integer >= 1, got {self.max_body_bytes!r}")
        for name in ("default_time_limit", "max_time_limit"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 < v < float("inf")):
                raise InvalidInputError(f"{where}: {name} must be a positive number of seconds, got {v!r}")
        if self.default_time_limit > self.max_time_limit:
            raise InvalidInputError(f"{where}: the default time limit {self.default_time_limit} s exceeds the "
                                    f"maximum {self.max_time_limit} s")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise InvalidInputError(f"{where}: workers must be an integer >= 1, got {self.workers!r}")
        queue = 4 * self.workers if self.queue is None else self.queue
        if not (isinstance(queue, int) and queue >= 0):
            raise InvalidInputError(f"{where}: queue must be an integer >= 0, got {self.queue!r}")
        if not (isinstance(self.grace, (int, float)) and 0 <= self.grace < float("inf")):
            raise InvalidInputError(f"{where}: grace must be a number of seconds >= 0, got {self.grace!r}")
        return replace(self, queue=queue)


class _Pool:
    """A bounded thread pool: ``workers`` run, ``queue`` wait, the rest are refused."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="engine-solve")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self.active = 0  # submitted and not finished (running or waiting)

    def try_submit(self, fn: Any) -> Any:
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            self.active += 1
        fut = self.executor.submit(fn)

        def done(_: Any) -> None:
            with self._lock:
                self.active -= 1
            self._slots.release()

        fut.add_done_callback(done)
        return fut

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _schema_names() -> dict[str, str]:

    out = {}
    for name in SCHEMAS:
        out[name] = name
        out[name.split("/", 1)[1]] = name
    return out


def _parse_float(text: Optional[str], name: str) -> Optional[float]:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"POST /v1/solve: {name} must be a number, got {text[:80]!r}") from None


def _parse_int(text: Optional[str], name: str) -> Optional[int]:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"POST /v1/solve: {name} must be an integer, got {text[:80]!r}") from None


def create_app(config: Optional[ServeConfig] = None, *, kinds: Optional[Any] = None, **overrides: Any) -> Any:
    """The FastAPI application (``overrides`` replace fields of ``config``; ``kinds``: the input
    kinds to accept, default every installed one)."""
    from fastapi import FastAPI, Query, Request
    from fastapi.openapi.utils import get_openapi
    from fastapi.responses import JSONResponse


    cfg = replace(config or ServeConfig(), **overrides).checked()
    assert cfg.queue is not None  # checked() fills it
    kinds = load_kinds() if kinds is None else list(kinds)
    pool = _Pool(cfg.workers, cfg.queue)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        pool.shutdown()

    app = FastAPI(title="gameplan engine", version=__version__, lifespan=lifespan,
                  description="The engine behind HTTP: POST an instance to /v1/solve, get a gameplan/result "
                              "document back. Inputs are recognised by their content; options are query "
                              "parameters. See `engine-bench solve --help` for the kinds, methods and options.")
    app.state.config = cfg
    app.state.pool = pool

    def error(status: int, message: str, field: Optional[str] = None, headers: Optional[dict] = None) -> Any:
        return JSONResponse({"detail": {"error": message, "field": field}}, status_code=status, headers=headers)

    @app.get("/v1/health", summary="Liveness, version, installed kinds and limits")
    def health() -> dict:
        return {"status": "ok", "version": __version__, "kinds": [k.name for k in kinds], "workers": cfg.workers,
                "running": pool.active,
                "limits": {"max_body_bytes": cfg.max_body_bytes, "default_time_limit": cfg.default_time_limit,
                           "max_time_limit": cfg.max_time_limit, "queue": cfg.queue, "grace": cfg.grace}}

    @app.get("/v1/schemas", summary="The JSON Schemas the engine ships")
    def schemas() -> dict:
        return {"schemas": list(SCHEMAS), "kinds": {k.name: k.schema for k in kinds}}

    @app.get("/v1/schemas/{name:path}", summary="One shipped JSON Schema (game, cormab, submodular, map, result, "
                                                "run_record)")
    def one_schema(name: str) -> Any:
        names = _schema_names()
        full = names.get(name)
        if full is None:
            kind = next((k for k in kinds if k.name == name), None)
            if kind is not None:
                return error(404, f"input kind {name!r} has no JSON Schema (it is not a JSON document kind)")
            return error(404, f"no schema {name[:80]!r}; known: {', '.join(sorted(names))}")
        return JSONResponse(engine_schema(full))

    content: dict[str, Any] = {
        "application/json": {"schema": {"oneOf": [{"$ref": f"#/components/schemas/{_ref(k.schema)}"}
                                                  for k in kinds if k.schema]}},
        "text/plain": {"schema": {"type": "string", "description": "a Gambit .nfg or .efg file (text starting with NFG or EFG)"}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "GTAlign payoff matrices, one JSON "
                                                                             "object per line"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                "description": "an occupancy map as PNG or .npy bytes"}},
    }
    result_ref = {"$ref": f"#/components/schemas/{_ref('gameplan/result')}"}
    err_schema = {"type": "object", "properties": {"detail": {"type": "object", "properties": {
        "error": {"type": "string"}, "field": {"type": ["string", "null"]}}}}}

    @app.post("/v1/solve", summary="Solve an instance; returns a gameplan/result document",
              openapi_extra={
                  "requestBody": {"required": True, "content": content},
                  "responses": {
                      "200": {"description": "the result document (any status)",
                              "content": {"application/json": {"schema": result_ref}}},
                      "413": {"description": "body larger than the server's limit",
                              "content": {"application/json": {"schema": err_schema}}},
                      "422": {"description": "invalid input or option; 'field' names the JSON path or option",
                              "content": {"application/json": {"schema": err_schema}}},
                      "503": {"description": "every worker busy and the queue full"},
                      "504": {"description": "the solver did not stop at its time limit"}}})
    async def solve(request: Request,
                    method: Optional[str] = Query(None, description="method of the input's kind (default: its "
                                                                    "natural one)"),
                    time_limit: Optional[str] = Query(None, description="seconds (default and maximum: the "
                                                                        "server's limits)"),
                    threads: Optional[str] = Query(None, description="threads for BLAS/torch/solvers"),
                    seed: Optional[str] = Query(None, description="integer seed (default 0)")) -> Any:
        where = "POST /v1/solve"
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > cfg.max_body_bytes
            except ValueError:
                return error(400, f"{where}: bad Content-Length {declared[:40]!r}")
            if too_big:
                return error(413, f"{where}: the body has {declared} bytes, more than the limit of "
                                  f"{cfg.max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cfg.max_body_bytes:
                return error(413, f"{where}: the body is larger than the limit of {cfg.max_body_bytes} bytes")
        try:
            tl = _parse_float(time_limit, "time_limit")
            if tl is None:
                tl = _parse_float(request.query_params.get("time-limit"), "time_limit")
            if tl is None:
                tl = cfg.default_time_limit
            if not tl > 0:
                raise InvalidInputError(f"{where}: time_limit must be > 0 seconds, got {tl}")
            if tl > cfg.max_time_limit:
                raise InvalidInputError(f"{where}: time_limit {tl:g} s exceeds this server's maximum of "
                                        f"{cfg.max_time_limit:g} s")
            th = _parse_int(threads, "threads")
            sd = _parse_int(seed, "seed")
        except InvalidInputError as err:
            return error(422, str(err), _option_field(str(err)))
        options = {k: v for k, v in request.query_params.items() if k not in _COMMON}
        source = Source(bytes(body), name="the request body")

        def work() -> Any:
            kind, solved = solve_source(source, method=method, time_limit=tl, threads=th,
                                        seed=0 if sd is None else sd, options=options, kinds=kinds, http=True,
                                        where=where)
            return result_document(solved.result)

        fut = pool.try_submit(work)
        if fut is None:
            return error(503, f"{where}: all {cfg.workers} workers are busy and {cfg.queue} requests wait; "
                              f"retry later", headers={"Retry-After": "1"})
        try:
            doc = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout=tl + cfg.grace)
        except asyncio.TimeoutError:
            return error(504, f"{where}: the solver did not stop within {cfg.grace:g} s of its time limit "
                              f"({tl:g} s)")
        except InvalidInputError as err:
            return error(422, str(err), field_of(err) or _option_field(str(err)))
        except EngineError as err:
            return error(500, f"{where}: {type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001 - a bug: log it, answer without the traceback
            _log.exception("POST /v1/solve failed")
            return error(500, f"{where}: internal error ({type(err).__name__})")
        return JSONResponse(doc, headers={"X-Engine-Status": str(doc.get("status", ""))})

    def custom_openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        comps = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in SCHEMAS:
            comps[_ref(name)] = engine_schema(name)
        app.openapi_schema = spec
        return spec

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


def _ref(schema_name: Optional[str]) -> str:
    return str(schema_name).replace("/", "_")


def _option_field(message: str) -> Optional[str]:
    import re

    m = re.search(r"(?:bad value for |option |takes no option )(?:--)?'?([A-Za-z_][A-Za-z0-9_-]*)", message)
    if m:
        return m.group(1).replace("-", "_")
    for name in ("time_limit", "threads", "seed", "method"):
        if message.split(":", 1)[-1].lstrip().startswith(name) or f" {name} " in message:
            return name
    if "has no method" in message:
        return "method"
    return None


# ============================================================================ running it
def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except OSError as err:
        sock.close()
        raise InvalidInputError(f"engine-bench serve: cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@contextmanager
def running_server(*, host: str = "127.0.0.1", port: int = 0, config: Optional[ServeConfig] = None,
                   kinds: Optional[Any] = None, **overrides: Any) -> Iterator[str]:
    """Run the service in a background thread of this process; yield its base URL.

    For tests, notebooks and embedding: ``port=0`` takes a free port. The server stops when the
    block ends.

    Examples
    --------
    >>> import httpx
    >>> with running_server() as url:
    ...     httpx.get(f"{url}/v1/health").json()["status"]
    'ok'
    """
    import uvicorn

    app = create_app(config, kinds=kinds, **overrides)
    sock = _bind(host, port)
    # log_config=None: uvicorn's records go to the caller's logging setup, not to its own handlers
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="engine-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("running_server(): the server did not start")
        time.sleep(0.01)
    shown = f"[{host}]" if ":" in host else host
    try:
        yield f"http://{shown}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback exposes an unauthenticated service.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="0: a free port.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Solves at once.")
@click.option("--queue", type=click.IntRange(min=0), default=None, help="Requests that may wait (default 4 x workers).")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_BODY_BYTES, show_default=True)
@click.option("--time-limit", "default_time_limit", type=click.FloatRange(min=0, min_open=True), default=10.0,
              show_default=True, help="Seconds a request gets when it names none.")
@click.option("--max-time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Largest time_limit a request may ask for.")
@click.option("--grace", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds past its time limit before a request is answered 504.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
@click.option("--debug", is_flag=True, hidden=True)
def serve_command(host: str, port: int, workers: int, queue: Optional[int], max_body_bytes: int,
                  default_time_limit: float, max_time_limit: float, grace: float, log_level: str, debug: bool) -> None:
    """Serve the engine over HTTP (POST /v1/solve, GET /v1/health, GET /v1/schemas/NAME, /docs).

    Needs the serve extra: pip install 'gameplan-engine[serve]'.
    """
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as err:
        raise InvalidInputError(f"engine-bench serve: needs FastAPI and uvicorn ({err.name} is missing); install "
                                f"them with: pip install 'gameplan-engine[serve]'") from None
    cfg = ServeConfig(max_body_bytes=max_body_bytes, default_time_limit=default_time_limit,
                      max_time_limit=max_time_limit, workers=workers, queue=queue, grace=grace).checked()
    app = create_app(cfg)
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    if not _is_loopback(host):
        click.echo(f"engine-bench serve: WARNING: listening on {host}, not a loopback address; the service has no "
                   f"authentication", err=True)
    click.echo(f"engine-bench serve: listening on {url} ({workers} workers, time limit {default_time_limit:g} s, "
               f"max {max_time_limit:g} s, bodies up to {max_body_bytes} bytes); API docs at {url}/docs", err=True)
    sys.stderr.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
