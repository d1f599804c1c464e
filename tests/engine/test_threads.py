"""Tests of engine.threads: the engine's thread policy is applied inside a call and the user's
settings are back outside it (read with threadpoolctl, as a user would)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from engine import threads as policy
from engine.errors import InvalidInputError


def _blas() -> set:
    """The thread counts of every loaded BLAS pool (numpy's and scipy's)."""
    return {d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}


def _can_use(n: int) -> bool:
    with threadpool_limits(n, user_api="blas"):
        return _blas() == {n}


needs_two = pytest.mark.skipif(not _can_use(2), reason="the BLAS cannot run 2 threads on this machine")


@policy.hot_path
def _engine_call(*, threads=None, inside=None):
    """A stand-in for an engine entry point: records what threadpoolctl reports inside it."""
    inside.append((_blas(), policy.current_threads()))
    return np.ones((8, 8)) @ np.ones(8)


@needs_two
def test_policy_inside_and_user_setting_outside():
    inside: list = []
    with threadpool_limits(2, user_api="blas"):
        assert _blas() == {2}
        _engine_call(inside=inside)
        assert _blas() == {2}                      # the user's setting is back
        _engine_call(threads=2, inside=inside)
        assert _blas() == {2}
    assert inside == [({policy.DEFAULT_THREADS}, policy.DEFAULT_THREADS), ({2}, 2)]
    with threadpool_limits(1, user_api="blas"):
        _engine_call(threads=2, inside=inside)
        assert _blas() == {1}
    assert inside[-1] == ({2}, 2)
    assert policy.current_threads() is None


@needs_two
def test_nested_calls_inherit_and_restore():
    seen: list = []

    @policy.hot_path
    def outer(*, threads=None):
        seen.append(("outer", _blas()))
        inner()
        seen.append(("after inner", _blas()))
        inner(threads=1)
        seen.append(("after explicit inner", _blas()))

    @policy.hot_path
    def inner(*, threads=None):
        seen.append(("inner", _blas()))

    with threadpool_limits(1, user_api="blas"):
        outer(threads=2)
        assert _blas() == {1}
    assert seen == [("outer", {2}), ("inner", {2}), ("after inner", {2}), ("inner", {1}),
                    ("after explicit inner", {2})]


@needs_two
def test_restored_after_an_exception():
    @policy.hot_path
    def failing(*, threads=None):
        assert _blas() == {1}
        raise RuntimeError("boom")

    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(RuntimeError, match="boom"):
            failing()
        assert _blas() == {2}
    assert policy.current_threads() is None


@needs_two
def test_set_default_threads_changes_the_policy_everywhere():
    inside: list = []
    old = policy.set_default_threads(2)
    try:
        with threadpool_limits(1, user_api="blas"):
            _engine_call(inside=inside)
            assert _blas() == {1}
    finally:
        policy.set_default_threads(old)
    assert inside == [({2}, 2)]
    assert policy.default_threads() == old


def test_torch_intra_op_threads_follow_the_policy():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    seen = []

    @policy.hot_path
    def call(*, threads=None):
        seen.append(torch.get_num_threads())

    try:
        torch.set_num_threads(2)
        call()
        assert torch.get_num_threads() == 2
        call(threads=3)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 3]


def test_concurrent_calls_restore_the_user_setting():
    # calls from several Python threads overlap: the last one to leave restores the user's setting
    barrier = threading.Barrier(4)
    errors = []

    @policy.hot_path
    def call(*, threads=None):
        barrier.wait(timeout=10)
        if _blas() != {1}:
            errors.append(_blas())

    with threadpool_limits(2 if _can_use(2) else 1, user_api="blas"):
        user = _blas()
        workers = [threading.Thread(target=call) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert _blas() == user
    assert not errors


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_threads_are_refused_with_the_function_name(bad):
    with pytest.raises(InvalidInputError, match=r"_engine_call\(\): threads"):
        _engine_call(threads=bad, inside=[])
    with pytest.raises(InvalidInputError, match="set_default_threads"):
        policy.set_default_threads(bad)


def test_no_environment_variable_is_touched(monkeypatch):
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    before = {k: v for k, v in __import__("os").environ.items() if "THREADS" in k}
    _engine_call(threads=1, inside=[])
    after = {k: v for k, v in __import__("os").environ.items() if "THREADS" in k}
    assert before == after


def test_a_library_loaded_later_is_found():
    # the controller is rebuilt when modules were imported since the last scan
    policy._get_controller()
    key = policy._controller_key
    sys.modules["_engine_threads_test_dummy"] = type(sys)("_engine_threads_test_dummy")
    try:
        policy._get_controller()
        assert policy._controller_key == key + 1
    finally:
        del sys.modules["_engine_threads_test_dummy"]
