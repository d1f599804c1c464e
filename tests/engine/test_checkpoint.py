"""engine.checkpoint: versioned, checksummed checkpoint files read as untrusted input."""

import copy
import io
import json
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from engine import checkpoint
from engine.errors import InvalidInputError
from tests.checkpoint_corruption import assert_corruptions_refused

torch = pytest.importorskip("torch")

KIND = "tests.Thing"


class _Payload:
    """Unpickling this creates ``marker``: proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _state():
    return {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.zeros(3, dtype=torch.float64),
            "meta": {"name": "x", "n": 3, "lr": 0.5, "flag": True, "none": None, "sizes": [4, 5], "pair": (1, 2.0)},
            "opt": {0: {"step": torch.tensor(3.0)}}}


def _container(payload: bytes, *, kind=KIND, version=1, format_version=checkpoint.FORMAT_VERSION) -> bytes:
    """A container with a *valid* checksum around any payload (what a forger can always write)."""
    header = {"format": checkpoint.FORMAT, "format_version": format_version, "kind": kind, "version": version,
              "size": len(payload)}
    header["sha256"] = checkpoint._digest(header, payload)
    return checkpoint.MAGIC + checkpoint._header_bytes(header) + b"\n" + payload


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _read(path, **kw):
    return checkpoint.read(path, kind=KIND, versions=1, where="f()", **kw)


def test_round_trip_and_header(tmp_path):
    p = checkpoint.write(tmp_path / "a.ckpt", _state(), kind=KIND, version=1)
    raw = p.read_bytes()
    assert raw.startswith(checkpoint.MAGIC)
    header = json.loads(raw[len(checkpoint.MAGIC):raw.index(b"\n", len(checkpoint.MAGIC))])
    assert header["kind"] == KIND and header["version"] == 1 and len(header["sha256"]) == 64
    ck = _read(p)
    assert (ck.kind, ck.version, ck.where) == (KIND, 1, "f()") and str(p) in ck.context
    assert torch.equal(ck.state["w"], _state()["w"]) and ck.state["meta"] == _state()["meta"]
    assert ck.integer("meta.n", lower=0, upper=3) == 3 and ck.real("meta.lr") == 0.5
    assert ck.sequence("meta.sizes", 2) == [4, 5] and ck.integer(("meta", "sizes", 1)) == 5
    assert ck.tensor("b", dtype=torch.float64, shape=(3,)).sum() == 0


def test_import_does_not_import_torch():
    code = "import sys, engine.checkpoint; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pickle_payloads_do_not_run(tmp_path):
    marker = tmp_path / "ran"
    plain = tmp_path / "plain.pt"
    torch.save({"format": "old-1", "x": _Payload(marker)}, plain)        # a plain torch file
    with pytest.raises(InvalidInputError, match="plain torch/pickle.*'old-1'"):
        checkpoint.read(plain, kind=KIND, versions=1, where="f()", legacy=("old-1",))
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Payload(marker)))                       # a bare pickle
    with pytest.raises(InvalidInputError, match="plain torch/pickle"):
        _read(raw)
    forged = tmp_path / "forged.ckpt"                                     # valid checksum, hostile payload
    forged.write_bytes(_container(_torch_bytes({"x": _Payload(marker)})))
    with pytest.raises(InvalidInputError, match="weights_only"):
        _read(forged)
    assert not marker.exists()


def test_byte_flips_truncation_and_extension_are_refused(tmp_path):
    good = checkpoint.write(tmp_path / "good.ckpt", _state(), kind=KIND, version=1).read_bytes()
    bad = tmp_path / "bad.ckpt"
    assert_corruptions_refused(_read, good, bad, cuts=(0, 5, len(checkpoint.MAGIC) + 10, len(good) // 2, len(good) - 1))
    bad.write_bytes(good[:-1])
    with pytest.raises(InvalidInputError, match="truncated"):
        _read(bad)
    bad.write_bytes(good + b"\0")
    with pytest.raises(InvalidInputError, match="extended"):
        _read(bad)
    # the payload is covered byte for byte: the last byte of the archive
    data = bytearray(good)
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="checksum"):
        _read(bad)


def test_kind_version_format_and_size_limits(tmp_path):
    p = checkpoint.write(tmp_path / "a.ckpt", _state(), kind=KIND, version=2)
    with pytest.raises(InvalidInputError, match="'tests.Thing' checkpoint, not a 'other.Kind'"):
        checkpoint.read(p, kind="other.Kind", versions=2, where="f()")
    with pytest.raises(InvalidInputError, match="state version 2 is not supported"):
        _read(p)
    assert checkpoint.read(p, kind=KIND, versions=(1, 2), where="f()").version == 2
    with pytest.raises(InvalidInputError, match="max_bytes"):
        checkpoint.read(p, kind=KIND, versions=2, where="f()", max_bytes=100)
    future = tmp_path / "future.ckpt"
    future.write_bytes(_container(_torch_bytes({}), format_version=2))
    with pytest.raises(InvalidInputError, match="format version 2 is not supported"):
        _read(future)
    with pytest.raises(InvalidInputError, match="no such file"):
        _read(tmp_path / "missing.ckpt")
    with pytest.raises(InvalidInputError, match="no such file"):
        _read(tmp_path)


def test_forged_payloads_are_refused(tmp_path):
    p = tmp_path / "f.ckpt"
    # a compressed record (a zip bomb in the making)
    src = zipfile.ZipFile(io.BytesIO(_torch_bytes({"w": torch.zeros(100)})))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info.filename))
    p.write_bytes(_container(out.getvalue()))
    with pytest.raises(InvalidInputError, match="compressed"):
        _read(p)
    # a zero-stride view that would materialise 10**12 elements
    p.write_bytes(_container(_torch_bytes({"w": torch.zeros(1).expand(10**6, 10**6)})))
    with pytest.raises(InvalidInputError, match="contiguous"):
        _read(p)
    # objects weights_only allows but a checkpoint never holds
    p.write_bytes(_container(_torch_bytes({"d": torch.device("cpu")})))
    with pytest.raises(InvalidInputError, match="unexpected type"):
        _read(p)
    p.write_bytes(_container(_torch_bytes([1, 2])))
    with pytest.raises(InvalidInputError, match="not a dict"):
        _read(p)
    p.write_bytes(_container(b"not a zip archive"))
    with pytest.raises(InvalidInputError, match="not a torch archive"):
        _read(p)
    deep: dict = {}
    cur = deep
    for _ in range(40):
        cur["x"] = {}
        cur = cur["x"]
    p.write_bytes(_container(_torch_bytes(deep)))
    with pytest.raises(InvalidInputError, match="nested"):
        _read(p)
    # a damaged but parseable header
    raw = bytearray(checkpoint.write(tmp_path / "g.ckpt", _state(), kind=KIND, version=1).read_bytes())
    p.write_bytes(bytes(raw).replace(b'"kind":', b'"kind" :', 1))
    with pytest.raises(InvalidInputError, match="header"):
        _read(p)


def test_write_refuses_what_read_would_refuse(tmp_path):
    with pytest.raises(TypeError, match="contiguous"):
        checkpoint.write(tmp_path / "x.ckpt", {"w": torch.zeros(3, 3).t()}, kind=KIND, version=1)
    with pytest.raises(TypeError, match="unexpected type"):
        checkpoint.write(tmp_path / "x.ckpt", {"a": np.zeros(2)}, kind=KIND, version=1)
    assert not (tmp_path / "x.ckpt").exists()


def test_accessors_raise_invalid_input_naming_file_and_key(tmp_path):
    p = checkpoint.write(tmp_path / "a.ckpt", _state(), kind=KIND, version=1)
    ck = _read(p)
    with pytest.raises(InvalidInputError, match=r"a\.ckpt'.*missing key meta\.absent"):
        ck.get("meta.absent")
    with pytest.raises(InvalidInputError, match="meta.name must be an integer"):
        ck.integer("meta.name")
    with pytest.raises(InvalidInputError, match=r"meta.n must be in \[0, 2\]"):
        ck.integer("meta.n", lower=0, upper=2)
    with pytest.raises(InvalidInputError, match="meta.flag must be a real"):
        ck.real("meta.flag")
    with pytest.raises(InvalidInputError, match="wrong keys"):
        ck.mapping("meta", keys=("name",))
    with pytest.raises(InvalidInputError, match="shape"):
        ck.tensor("w", shape=(3, 2))
    with pytest.raises(InvalidInputError, match="dtype"):
        ck.tensor("w", dtype=torch.float64)
    with pytest.raises(InvalidInputError, match="meta.sizes has no item 5"):
        ck.get(("meta", "sizes", 5))


def test_load_module_optimizer_and_rng_checks(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    gen = np.random.default_rng(5)
    gen.random()
    state = {"net": net.state_dict(), "opt": opt.state_dict(), "rng": gen.bit_generator.state}
    p = checkpoint.write(tmp_path / "a.ckpt", state, kind=KIND, version=1)
    net2, gen2 = torch.nn.Linear(3, 2), np.random.default_rng(0)
    opt2 = torch.optim.Adam(net2.parameters(), lr=0.1)
    ck = _read(p)
    ck.load_module("net", net2)
    ck.load_optimizer("opt", opt2)
    ck.load_rng("rng", gen2)
    assert torch.equal(net2.weight, net.weight) and gen2.random() == gen.random()

    def refused(mutate, match):
        s = copy.deepcopy({"net": dict(net.state_dict()), "opt": opt.state_dict(), "rng": gen.bit_generator.state})
        mutate(s)
        q = checkpoint.write(tmp_path / "b.ckpt", s, kind=KIND, version=1)
        c = _read(q)
        with pytest.raises(InvalidInputError, match=match):
            c.load_module("net", torch.nn.Linear(3, 2))
            c.load_optimizer("opt", torch.optim.Adam(torch.nn.Linear(3, 2).parameters()))
            c.load_rng("rng", np.random.default_rng(0))

    refused(lambda s: s["net"].__setitem__("weight", torch.full((2, 3), float("nan"))), "NaN")
    refused(lambda s: s["net"].__setitem__("weight", torch.zeros(3, 2)), "shape")
    refused(lambda s: s["net"].pop("bias"), "missing")
    refused(lambda s: s["opt"]["state"][0].__setitem__("exp_avg_sq", -torch.ones(2, 3)), "below 0")
    refused(lambda s: s["opt"]["state"].__setitem__(7, s["opt"]["state"][0]), "parameter 7")
    refused(lambda s: s["opt"]["param_groups"][0].__setitem__("lr", float("inf")), "finite")
    refused(lambda s: s["rng"].__setitem__("bit_generator", "MT19937"), "rng.bit_generator")
    refused(lambda s: s["rng"]["state"].__setitem__("state", "zero"), "rng.state.state must be an integer")
    refused(lambda s: s["rng"]["state"].__setitem__("state", 1 << 200), "random generator state")


def test_check_limit_and_threads():
    checkpoint.check_limit(10, 10, "x", context="f()")
    with pytest.raises(InvalidInputError, match="max_parameters=10"):
        checkpoint.check_limit(11, 10, "x", context="f()")
    assert checkpoint.check_threads(None, "threads", "f()") is None
    assert 1 <= checkpoint.check_threads(10**6, "threads", "f()") <= 10**6
    with pytest.raises(InvalidInputError, match="threads"):
        checkpoint.check_threads(0, "threads", "f()")
