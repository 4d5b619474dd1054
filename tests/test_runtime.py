import random

import numpy as np
import pytest
import torch

from helpers.runtime import device, seed_everything


@pytest.mark.parametrize("cuda, mps, expected",
                         [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_device_default_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("HELPERS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device() == torch.device(expected)


def test_device_override(monkeypatch):
    monkeypatch.setenv("HELPERS_DEVICE", "cpu")
    assert device() == torch.device("cpu")


def test_device_bad_override(monkeypatch):
    monkeypatch.setenv("HELPERS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="HELPERS_DEVICE must name one of"):
        device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("HELPERS_DEVICE", "cuda")
        with pytest.raises(ValueError, match="no CUDA device"):
            device()


def test_seed_everything_reproduces_every_rng():
    g1 = seed_everything(123)
    a = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=g1))
    g2 = seed_everything(123)
    b = (random.random(), np.random.rand(), torch.rand(3), torch.rand(3, generator=g2))
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    assert isinstance(g1, torch.Generator)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_everything_bad_seed(seed, error):
    with pytest.raises(error, match="seed must"):
        seed_everything(seed)
