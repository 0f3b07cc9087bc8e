"""Trial 44: `detect run --engine ray` stopped by SIGTERM exited with status 134 (Ray's core worker dumped a stack
and aborted) instead of the documented 143: `ray.init` replaces the SIGTERM handler, and a handler's exception raised
while Ray waits comes out as a SystemError. A stand-in `ray` module plays both parts here (no Ray needed)."""

import signal
import sys
import types

import pytest

from detector.engines import RayConfig, run_ray


class Stop(BaseException):
    pass


def fake_ray(monkeypatch, calls):
    ray = types.ModuleType("ray")
    state = {"up": False}

    def init(**kwargs):
        state["up"] = True
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(15))  # as ray.init does

    class Pool:
        def __init__(self, actors):
            pass

        def map_unordered(self, fn, chunks):
            try:
                raise Stop()  # the command's handler, raised inside Ray's wait …
            except Stop as e:
                raise SystemError("<cyfunction CoreWorker.wait> returned a result with an exception set") from e
            yield  # pragma: no cover

    ray.is_initialized = lambda: state["up"]
    ray.init = init
    ray.shutdown = lambda: calls.append("shutdown")
    ray.cluster_resources = lambda: {"CPU": 2}
    ray.remote = lambda **kw: (lambda cls: types.SimpleNamespace(remote=lambda cfg: object()))
    util = types.ModuleType("ray.util")
    util.ActorPool = Pool
    ray.util = util
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setitem(sys.modules, "ray.util", util)


def test_ray_keeps_the_commands_sigterm_handler_and_its_exception(monkeypatch):
    calls = []
    fake_ray(monkeypatch, calls)

    def ours(signum, frame):
        raise Stop()

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        from dataclasses import dataclass

        @dataclass
        class Config:
            threads: int = 1

        gen = run_ray(Config(), [(0, "a.jpg", "a.jpg")], RayConfig())
        with pytest.raises(Stop):
            next(gen)
        assert signal.getsignal(signal.SIGTERM) is ours  # put back after ray.init
        assert calls == ["shutdown"]
    finally:
        signal.signal(signal.SIGTERM, previous)
