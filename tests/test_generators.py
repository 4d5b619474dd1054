"""``generator=None`` has one meaning across the public API: torch's global RNG (DESIGN.md, tensor contract).

The walk covers every public callable of ``helpers`` with a ``generator`` parameter, using the valid calls of
``tests/calls.py`` (``CALLS``): its docstring says what None means; with ``torch.manual_seed(s)`` set
before each, two calls with ``generator=None`` agree; and None is not a fixed seed in disguise — where a call
depends on its generator at all, its result under None is not the result under a generator seeded 0 for
every global seed.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from torch import nn

from tests.calls import CALLS, PUBLIC, Call, base_inputs, bind, invoke

MEANING = "torch's global RNG"

WITH_GENERATOR = sorted(
    name for name, obj in PUBLIC.items()
    if callable(obj) and not inspect.isclass(obj) and "generator" in inspect.signature(obj).parameters
)


def _fingerprint(value: Any) -> Any:
    """What a call produced, comparable with ``==``: tensors as exact lists, modules as their weights."""
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.detach().cpu().double().flatten().tolist())
    if isinstance(value, nn.Module):
        return ("module", [_fingerprint(t) for t in value.state_dict().values()])
    if isinstance(value, dict):
        return {k: _fingerprint(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_fingerprint(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(type(value))


def _outcome(name: str, generator: torch.Generator | None, global_seed: int) -> Any:
    """The result of CALLS[name] (and the weights of the models it was given) with ``generator``, the global
    RNG seeded ``global_seed`` just before the call."""
    entry = CALLS[name]
    kwargs = entry.build(*base_inputs(entry.inputs), torch.Generator().manual_seed(0))
    kwargs["generator"] = generator
    function, rest = bind(name, PUBLIC[name], kwargs)
    torch.manual_seed(global_seed)
    result = invoke(function, rest)
    models = [v for v in kwargs.values() if isinstance(v, nn.Module)]
    return _fingerprint(result), [_fingerprint(m) for m in models]


def test_the_walk_finds_the_functions_of_the_issue():
    for name in ("helpers.training.train", "helpers.attacks.blackbox.simba", "helpers.attacks.whitebox.pgd",
                 "helpers.explain.gradients.smoothgrad", "helpers.defenses.smoothing.certify"):
        assert name in WITH_GENERATOR


@pytest.mark.parametrize("name", WITH_GENERATOR)
def test_the_docstring_says_what_none_means(name):
    doc = inspect.getdoc(PUBLIC[name]) or ""
    assert MEANING in doc, f"{name}'s docstring must say that generator=None means {MEANING}"
    assert "seed 0 when None" not in doc


@pytest.mark.parametrize("name", [n for n in WITH_GENERATOR if isinstance(CALLS.get(n), Call)])
def test_none_is_the_global_rng(name):
    torch.set_num_threads(1)
    first = _outcome(name, None, global_seed=1)
    assert _outcome(name, None, global_seed=1) == first, "torch.manual_seed must reproduce a call with None"
    fixed = _outcome(name, torch.Generator().manual_seed(0), global_seed=1)
    if _outcome(name, torch.Generator().manual_seed(1), global_seed=1) == fixed:
        return  # this call does not depend on its generator: nothing more to tell apart
    assert not (first == fixed and _outcome(name, None, global_seed=2) == fixed), (
        f"{name} treats generator=None as a generator seeded 0, not as torch's global RNG"
    )
