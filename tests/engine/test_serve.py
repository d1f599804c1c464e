"""`engine-bench serve` (engine/serve.py) for real: a uvicorn server on a loopback port, called with
httpx (and curl for the README example): every kind solved, concurrency, limits and errors."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sysconfig
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")  # the test extra installs httpx, fastapi and uvicorn
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import bandits.documents  # noqa: E402,F401 - registers the result kinds the documents name
import games.documents  # noqa: E402,F401
from engine.result import SolveResult  # noqa: E402
from engine.schemas import validate  # noqa: E402
from engine.serve import ServeConfig, create_app, running_server  # noqa: E402
from engine.solve import Kind, Solved  # noqa: E402
from engine.status import Status  # noqa: E402

from tests.engine.solve_fixtures import (README_CLIENT_PY, README_CURL, README_SERVE, write_inputs,  # noqa: E402
                                         write_readme_files)

SCRIPTS = Path(sysconfig.get_path("scripts"))
MAX_BODY = 2_000_000


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("serve-inputs"))


@pytest.fixture(scope="module")
def url():
    # a generous grace: the first solve of a kind in a fresh process compiles Numba kernels, which on a loaded
    # 2-core machine can take longer than the time limit itself (the 504 test below uses its own server)
    from games import NormalFormGame, qre

    qre.logit_solve(NormalFormGame.from_arrays([[3, 0], [0, 2]], [[2, 0], [0, 3]]), 2.0)   # compile the kernels once
    with running_server(workers=2, queue=16, max_body_bytes=MAX_BODY, default_time_limit=20, max_time_limit=30,
                        grace=300) as u:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", u)
        yield u


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=120) as c:
        yield c


def result_of(reply):
    assert reply.status_code == 200, reply.text
    doc = reply.json()
    validate(doc, expected="gameplan/result")
    assert reply.headers["x-engine-status"] == doc["status"]
    return doc


def test_health(client):
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["workers"] == 2
    assert set(body["kinds"]) >= {"game", "gtalign", "cormab", "submodular", "map"}
    assert body["limits"]["max_body_bytes"] == MAX_BODY and body["limits"]["max_time_limit"] == 30


def test_schemas_served(client):
    from engine.schemas import schema

    assert client.get("/v1/schemas/game").json() == schema("gameplan/game")
    assert client.get("/v1/schemas/gameplan/result").json() == schema("gameplan/result")
    listing = client.get("/v1/schemas").json()
    assert "gameplan/cormab" in listing["schemas"] and listing["kinds"]["map"] == "gameplan/map"
    assert client.get("/v1/schemas/nope").status_code == 404
    assert client.get("/v1/schemas/gtalign").status_code == 404


def test_openapi_generated_from_the_schemas(client):
    from engine.schemas import schema

    spec = client.get("/openapi.json").json()
    assert spec["components"]["schemas"]["gameplan_game"] == schema("gameplan/game")
    body = spec["paths"]["/v1/solve"]["post"]["requestBody"]["content"]
    refs = {r["$ref"] for r in body["application/json"]["schema"]["oneOf"]}
    assert refs == {f"#/components/schemas/gameplan_{k}" for k in ("game", "cormab", "submodular", "map", "tree")}
    assert {"text/plain", "application/octet-stream", "application/x-ndjson"} <= set(body)
    names = {p["name"] for p in spec["paths"]["/v1/solve"]["post"]["parameters"]}
    assert names >= {"method", "time_limit", "threads", "seed"}
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_binds_loopback_by_default():
    import inspect

    from engine.serve import serve_command

    host = next(p for p in serve_command.params if p.name == "host")
    assert host.default == "127.0.0.1"
    assert inspect.signature(running_server).parameters["host"].default == "127.0.0.1"


CASES = [
    ("nfg", "text/plain", {}, lambda d: len(d["equilibria"]["__tuple__"]) == 3 and d["method"] == "vertex_enumeration"),
    ("nfg", "text/plain", {"method": "qre", "lam": "2"}, lambda d: d["residual"] < 1e-10),
    ("nfg", "text/plain", {"method": "stackelberg", "leader": "0"}, lambda d: d["leader_value"] == pytest.approx(3)),
    ("game_json", "application/json", {"method": "branch"}, lambda d: d["max_regret"] <= 1e-8),
    ("cormab", "application/json", {"state": "[0,1,2,0]"}, lambda d: sum(d["action"]["__ndarray__"]) <= 2),
    ("cormab", "application/json", {"eval_episodes": "3", "horizon": "3"}, lambda d: d["status"] == "feasible"),
    ("submodular", "application/json", {}, lambda d: d["selected"]["__ndarray__"] == [0, 2]),
    ("knapsack", "application/json", {}, lambda d: d["cost"] <= 2),
    ("map_json", "application/json", {"planner": "nearest_frontier"}, lambda d: d["finish_reason"] == "explored"),
    ("map_png", "image/png", {"planner": "nearest_frontier"}, lambda d: d["finish_reason"] == "explored"),
    ("map_npy", "application/octet-stream", {"planner": "gain_greedy", "seed": "1"},
     lambda d: d["params"]["seed"] == 1),
    ("gtalign", "application/x-ndjson", {}, lambda d: d["matrices"] == 1 and d["errors"] == 1),
]


@pytest.mark.parametrize("label, ctype, params, check", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_kind_solved(client, inputs, label, ctype, params, check):
    doc = result_of(client.post("/v1/solve", content=inputs[label].read_bytes(), params=params,
                                headers={"Content-Type": ctype}))
    assert check(doc), doc
    SolveResult.from_dict(doc)  # the document reads back into its result class


def test_concurrent_requests(client, inputs):
    bodies = [(inputs["nfg"], {}), (inputs["submodular"], {}), (inputs["cormab"], {"state": "[0,1,2,0]"}),
              (inputs["nfg"], {"method": "qre", "lam": "3"}), (inputs["game_json"], {}), (inputs["map_npy"],
                                                                                          {"planner": "nearest_frontier"})]
    with ThreadPoolExecutor(max_workers=len(bodies)) as ex:
        replies = list(ex.map(lambda b: client.post("/v1/solve", content=b[0].read_bytes(), params=b[1]),
                              bodies * 2))
    docs = [result_of(r) for r in replies]
    assert [d["params"]["input"]["kind"] for d in docs] == ["game", "submodular", "cormab", "game", "game", "map"] * 2
    assert all(d["status"] in ("optimal", "feasible") for d in docs)


def test_too_large_body_is_413(client):
    reply = client.post("/v1/solve", content=b"{" + b" " * MAX_BODY + b"}")
    assert reply.status_code == 413 and "limit of 2000000" in reply.json()["detail"]["error"]

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(3):
            yield b" " * (MAX_BODY // 2)

    reply = client.post("/v1/solve", content=chunks())
    assert reply.status_code == 413


def test_slow_request_cut_at_its_time_limit_returns_the_incumbent(client, tmp_path):
    from planning.exploration import maps

    body = json.dumps(maps.indoor(200, seed=0).to_dict())  # FARE takes seconds to explore it all
    doc = result_of(client.post("/v1/solve", content=body, params={"time_limit": "0.5"}))
    assert doc["status"] == "time_limit" and doc["finish_reason"] == "time_limit"
    assert doc["params"]["request"]["time_limit"] == 0.5
    explored = doc["explored"]["__ndarray__"]
    assert 0 < explored[-1] < 1 and len(doc["trajectory"]["__ndarray__"]) == len(explored) >= 2


def test_default_and_maximum_time_limit(client, inputs):
    doc = result_of(client.post("/v1/solve", content=inputs["nfg"].read_bytes()))
    assert doc["params"]["request"]["time_limit"] == 20  # the server's default
    reply = client.post("/v1/solve", content=inputs["nfg"].read_bytes(), params={"time_limit": "31"})
    assert reply.status_code == 422 and reply.json()["detail"]["field"] == "time_limit"


def test_malformed_document_is_422_naming_the_field(client, inputs):
    doc = json.loads(inputs["cormab"].read_text())
    doc["transitions"][0][1][2] = [0.5, 0.5, "x", 0.0]
    reply = client.post("/v1/solve", json=doc)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert detail["field"] == "$['transitions'][0][1][2][2]" and detail["field"] in detail["error"]
    reply = client.post("/v1/solve", content=b'{"schema": "gameplan/game", "version": 1, "payoffs": [[1, "a"]]}')
    assert reply.status_code == 422 and reply.json()["detail"]["field"] == "$['payoffs'][0][1]"
    reply = client.post("/v1/solve", content=b'NFG 1 R "x" { "a" "b" } { 2 2 } 1 2 3')
    assert reply.status_code == 422 and "read_nfg()" in reply.json()["detail"]["error"]


@pytest.mark.parametrize("content, params, field, needle", [
    (b"hello", {}, None, "cannot tell what the request body holds"),
    (b'{"a": [[[[[[' * 30 + b"]]]]]]" * 30 + b"}", {}, None, "nested"),
    (None, {"lam": "x", "method": "qre"}, "lam", "bad value for lam"),
    (None, {"bogus": "1"}, "bogus", "takes no option bogus"),
    (None, {"method": "simplex"}, "method", "has no method"),
    (None, {"seed": "x"}, "seed", "seed must be an integer"),
])
def test_bad_inputs_and_options_are_422(client, inputs, content, params, field, needle):
    reply = client.post("/v1/solve", content=inputs["nfg"].read_bytes() if content is None else content,
                        params=params)
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert needle in detail["error"] and detail["field"] == field


def test_options_naming_server_files_are_refused(client, inputs, tmp_path):
    for name in ("save", "policy"):
        reply = client.post("/v1/solve", content=inputs["cormab"].read_bytes(),
                            params={"method": "sequoia", name: str(tmp_path / "agent.pt")})
        assert reply.status_code == 422 and reply.json()["detail"]["field"] == name
    assert not (tmp_path / "agent.pt").exists()


# ---------------------------------------------------------------------------- the worker pool
def _toy_kind(seconds: float, cooperative: bool) -> Kind:
    """A kind that takes ``seconds``; a cooperative one stops at its deadline with TIME_LIMIT."""

    def solve(src, req):
        t_end = time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            if cooperative and req.deadline is not None and time.perf_counter() >= req.deadline:
                return Solved(SolveResultWithStatus(Status.TIME_LIMIT))
            time.sleep(0.01)
        return Solved(SolveResultWithStatus(Status.OPTIMAL))

    return Kind(name="toy", accepts="the word toy", sniff=lambda s: s.data.startswith(b"toy"), solve=solve,
                methods=("wait",))


def SolveResultWithStatus(status):
    return SolveResult(status=status, method="wait")


def test_busy_pool_answers_503():
    with running_server(kinds=[_toy_kind(1.5, cooperative=True)], workers=1, queue=0) as u:
        with httpx.Client(base_url=u, timeout=30) as c, ThreadPoolExecutor(1) as ex:
            first = ex.submit(c.post, "/v1/solve", content=b"toy")
            deadline = time.monotonic() + 10
            while c.get("/v1/health").json()["running"] == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            busy = c.post("/v1/solve", content=b"toy")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert first.result().status_code == 200
            assert c.post("/v1/solve", content=b"toy", params={"time_limit": "0.2"}).json()["status"] == "time_limit"


def test_solver_that_ignores_its_time_limit_is_answered_504():
    with running_server(kinds=[_toy_kind(2.0, cooperative=False)], workers=1, grace=0.2) as u:
        reply = httpx.post(f"{u}/v1/solve", content=b"toy", params={"time_limit": "0.2"}, timeout=30)
        assert reply.status_code == 504 and "did not stop" in reply.json()["detail"]["error"]


def test_config_is_checked():
    from engine.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="exceeds the maximum"):
        create_app(ServeConfig(default_time_limit=100, max_time_limit=10))
    with pytest.raises(InvalidInputError, match="workers"):
        create_app(workers=0)


# ---------------------------------------------------------------------------- the README's examples
@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-readme")
    write_readme_files(d)
    return d


@contextlib.contextmanager
def serve_subprocess(line: str, cwd: Path):
    """Run the README's `engine-bench serve` line on a free port (--port 0); yield its URL."""
    argv = shlex.split(line.replace("--port 8000", "--port 0"))
    env = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        found: list = []

        def read() -> None:
            for text in proc.stderr:
                m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
                if m and not found:
                    found.append(m.group(1))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while not found and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found, f"engine-bench serve did not start (exit {proc.poll()})"
        base = found[0]
        while time.monotonic() < deadline:  # listening: the socket is bound before the line is printed
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/v1/health", timeout=5).status_code == 200:
                    break
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_readme_serve_and_curl_examples(readme_dir):
    with serve_subprocess(README_SERVE, readme_dir) as base:
        port = base.rsplit(":", 1)[1]
        outputs = []
        for line in README_CURL:
            proc = subprocess.run(["bash", "-c", line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")], cwd=readme_dir,
                                  capture_output=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            outputs.append(json.loads(proc.stdout))
    qre_doc, decision, health = outputs
    validate(qre_doc, expected="gameplan/result")
    validate(decision, expected="gameplan/result")
    assert qre_doc["method"] == "logit_solve" and qre_doc["status"] == "optimal"
    assert decision["kind"] == "bandits.documents.Decision" and decision["state"]["__ndarray__"] == [0, 1, 2, 0]
    assert health["status"] == "ok" and health["workers"] == 2


def test_readme_python_client_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(README_CLIENT_PY, "README client example", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.startswith("optimal 3 extreme equilibria")


def test_serve_without_fastapi_says_how_to_install(monkeypatch, capsys):
    import builtins

    from engine.cli import main

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name in ("fastapi", "uvicorn"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'gameplan-engine[serve]'" in err and err.count("\n") == 1


def test_non_loopback_host_warns(monkeypatch, capsys):
    import engine.serve as serve_mod
    from engine.cli import main

    class Stop(Exception):
        pass

    def no_run(self, sockets=None):
        raise Stop

    monkeypatch.setattr("uvicorn.Server.run", no_run)
    with pytest.raises(Stop):
        main(["serve", "--host", "0.0.0.0", "--port", "0"])
    assert "not a loopback address" in capsys.readouterr().err
    assert serve_mod._is_loopback("127.0.0.1") and serve_mod._is_loopback("::1") and not serve_mod._is_loopback("0.0.0.0")
