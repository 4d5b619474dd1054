"""The tensor contract under misuse: every public callable of ``helpers``, fed bad and awkward arguments.

The test walks the package itself (as ``test_contract`` does), so a new public function is covered
without editing this file — except that it must get an entry in ``CALLS`` (``tests/calls.py``: a valid
call, or a reason it is skipped), and the test fails, naming it, until it has one. From the valid call it
derives the variants by the arguments' names, values and annotations:

- images (``x``, ``images``, ``x_adv``, …): other ranks and dtypes, NaN / ±inf pixels, an empty batch,
  values outside [0, 1], not a tensor — each must be refused;
- labels (``y``, ``labels``, ``target``): out of range, negative, wrong length, float, 2-D — refused;
- models: not a module, a model returning shape N, N×1 or NaN logits — refused by every function that
  runs the model (one that only stores it must not return anything non-finite);
- numbers: NaN, ±inf and negative values refused, 0 refused or a finite result, a float for an int;
  ``bool`` options given the string ``"False"`` and ``str`` options given a list — refused;
- valid-but-awkward input: a batch of 1, channels_last, a non-contiguous view, ``x`` requiring grad, a
  model in train mode with dropout, an eval-mode model with one dropout left in train mode, a frozen
  model — each must give a finite, detached result.

A refusal must be a ``TypeError`` / ``ValueError`` (or the project's own exception) raised from a frame
of ``helpers``, never from inside torch, numpy or matplotlib, and its message must name the argument.
After every call, refused or not: the inputs are unchanged, every submodule's mode and every
parameter's ``requires_grad`` is as it was, and no ``.grad`` is left on the model.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import torch
from torch import nn

import helpers
from helpers import attacks, defenses
from tests.calls import CALLS, CLASSES, KINDS, PUBLIC, Call, Skip, base_inputs, bind, invoke, takes_model
from tests.conftest import tiny_batch, tiny_cnn

matplotlib.use("Agg")
HELPERS_DIR = str(Path(helpers.__file__).resolve().parent)
IMAGE_NAMES = {"x", "images", "x_adv", "seed_images", "clean", "x_init"}
LABEL_NAMES = {"y", "labels", "target"}

# Where a negative number has a meaning: qualified name → argument names.
NEGATIVE_OK: dict[str, set[str]] = {
    "helpers.attacks.audio.db_radius": {"db"},  # decibels below the clip: negative is the point
    "helpers.attacks.audio.pgd_db": {"db"},
    "helpers.explain.relevance.rules.ZBox": {"low"},  # a pixel range, e.g. below 0 after centring
}
# Where −∞ in a result has a documented meaning: qualified name → what it marks.
MINUS_INF_OK: dict[str, str] = {
    "helpers.attacks.text.flip_scores": "a flip that is not allowed (padding, the same character)",
}
# Arguments whose misuse the battery cannot derive from the valid call: (name, argument, bad value builder).
EXTRA: list[tuple[str, str, Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], Any]]] = [
    ("helpers.attacks.physical.random_transforms", "scale", lambda m, x, y, g: (0.0, 0.0)),
    ("helpers.attacks.physical.random_transforms", "brightness", lambda m, x, y, g: (1.2, 0.8)),
    (
        "helpers.attacks.physical.apply_patch",
        "change",
        lambda m, x, y, g: {**attacks.random_transforms(len(x), generator=g), "scale": torch.zeros(len(x))},
    ),
    ("helpers.attacks.physical.apply_patch", "patch", lambda m, x, y, g: x[0] * float("nan")),
    ("helpers.attacks.physical.apply_patch", "mask", lambda m, x, y, g: torch.full((12, 12), 2.0)),
    (
        "helpers.explain.gradients.integrated_gradients",
        "baseline",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    ("helpers.explain.gradients.integrated_gradients", "baseline", lambda m, x, y, g: 2.0),
    (
        "helpers.explain.metrics.localisation.relevance_mass",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    (
        "helpers.explain.metrics.localisation.pointing_game",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("inf")),
    ),
    (
        "helpers.explain.metrics.faithfulness.deletion_curve",
        "attributions",
        lambda m, x, y, g: torch.full_like(x, float("nan")),
    ),
    ("helpers.imaging.gaussian_blur", "sigma", lambda m, x, y, g: 10.0),
    ("helpers.zoo.load", "name", lambda m, x, y, g: ["fmnist_cnn"]),
    ("helpers.zoo.load", "device", lambda m, x, y, g: "banana"),
    ("helpers.course.grading.check", "exercise_id", lambda m, x, y, g: ["fgsm"]),
    ("helpers.attacks.whitebox.fgsm", "targeted", lambda m, x, y, g: "False"),
    ("helpers.attacks.transfer.ensemble", "models", lambda m, x, y, g: []),
    ("helpers.attacks.transfer.ensemble", "models", lambda m, x, y, g: m),
    ("helpers.attacks.geometry.decision_plane", "u", lambda m, x, y, g: torch.full_like(x[:1], float("nan"))),
]




def test_every_public_callable_has_an_entry():
    missing = sorted(set(PUBLIC) - set(CALLS))
    assert not missing, (
        "add these public callables to CALLS in tests/calls.py (a valid call, or a Skip "
        f"with its reason): {missing}"
    )
    stale = sorted(set(CALLS) - set(PUBLIC))
    assert not stale, f"CALLS names callables that no longer exist: {stale}"


# ---------------------------------------------------------------------------------------------- the battery


class _ShapeN(nn.Module):
    """Returns one number per input instead of N×K logits."""

    def __init__(self, inner: nn.Module | None = None) -> None:
        super().__init__()
        self.inner = tiny_cnn() if inner is None else inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, 0]


def _nan_model(make: Callable[..., nn.Module] = tiny_cnn) -> nn.Module:
    model = make().eval()
    with torch.no_grad():
        model[-1].weight[0, 0] = float("nan")
    return model


BAD_MODELS: dict[str, Callable[[], Any]] = {
    "not a module": lambda: lambda x: x,
    "returns shape N": lambda: _ShapeN().eval(),
    "returns N×1": lambda: tiny_cnn(classes=1).eval(),
    "returns NaN logits": _nan_model,
    "float64 model, float32 images": lambda: tiny_cnn().double().eval(),
}


def _bad_models(kind: str) -> dict[str, Callable[[], Any]]:
    """BAD_MODELS for the models of another kind of input (a keyword_cnn, a char_cnn)."""
    if kind == "images":
        return BAD_MODELS
    make = KINDS[kind][0]
    return {
        "not a module": lambda: lambda x: x,
        "returns shape N": lambda: _ShapeN(make()).eval(),
        "returns N×1": lambda: make(classes=1).eval(),
        "returns NaN logits": lambda: _nan_model(make),
        "float64 model, float32 images": lambda: make().double().eval(),
    }


def _bad_waveforms(x: torch.Tensor, has_model: bool) -> dict[str, tuple[Any, bool]]:
    """name → (value, must be refused), for waveforms N×T in [−1, 1]."""
    nan, inf = x.clone(), x.clone()
    nan[0, 5], inf[-1, 7] = float("nan"), float("inf")
    return {
        "float64": (x.double(), has_model),
        "float16": (x.half(), True),
        "int16 samples": ((x * 32767).to(torch.int16), True),
        "samples beyond ±1": (x * 3, True),
        "rank 1": (x[0], True),
        "rank 3": (x[None], True),
        "NaN sample": (nan, True),
        "inf sample": (inf, True),
        "empty batch": (x[:0], True),
        "a list": (x.tolist(), True),
    }


def _bad_tokens(x: torch.Tensor) -> dict[str, Any]:
    """name → value, each refused, for character indices int64 N×L."""
    out_of_range = x.clone()
    out_of_range[0, 0] = 39
    negative = x.clone()
    negative[-1, 1] = -1
    nan = x.double()
    nan[0, 0] = float("nan")
    return {
        "float tokens": x.float(),
        "NaN in float tokens": nan,
        "int32 tokens": x.int(),
        "index V": out_of_range,
        "index -1": negative,
        "rank 1": x[0],
        "rank 3": x[None],
        "empty batch": x[:0],
        "a list": x.tolist(),
    }


def _bad_images(x: torch.Tensor, has_model: bool) -> dict[str, tuple[Any, bool]]:
    """name → (value, must be refused)."""
    nan, inf = x.clone(), x.clone()
    nan[0, 0, 1, 1], inf[-1, 0, 2, 2] = float("nan"), float("inf")
    return {
        "float64": (x.double(), has_model),
        "float16": (x.half(), True),
        "uint8 0-255": ((x * 255).to(torch.uint8), True),
        "0-255 floats": (x * 255, True),
        "rank 3": (x[0], True),
        "rank 5": (x[None], True),
        "NaN pixel": (nan, True),
        "inf pixel": (inf, True),
        "empty batch": (x[:0], True),
        "a list": (x.tolist(), True),
    }


def _bad_labels(y: Any, n: int) -> dict[str, Any]:
    return {
        "class K": torch.full((n,), CLASSES),
        "class -1": torch.full((n,), -1),
        "one label too many": torch.zeros(n + 1, dtype=torch.int64),
        "float labels": torch.zeros(n),
        "2-D labels": torch.zeros(n, 1, dtype=torch.int64),
    }


def _bad_numbers(value: Any, annotation: str) -> dict[str, tuple[Any, str]]:
    """name → (value, "refuse" | "refuse-negative" | "refuse-or-finite")."""
    bad = {
        "NaN": (float("nan"), "refuse"),
        "inf": (float("inf"), "refuse"),
        "-inf": (-float("inf"), "refuse"),
        "negative": (-1 if isinstance(value, int) else -0.5, "refuse-negative"),
        "zero": (0 * value, "refuse-or-finite"),
    }
    if annotation.startswith("int"):
        bad["a float for an int"] = (2.5, "refuse")
    return bad


# ------------------------------------------------------------------------------------------------- running


def _annotation(param: inspect.Parameter) -> str:
    return (
        param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    )



def _tensors(value: Any, depth: int = 0):
    if depth > 3:
        return
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _tensors(getattr(value, field.name), depth + 1)


def _modules(kwargs: dict[str, Any]) -> list[nn.Module]:
    found = []
    for value in kwargs.values():
        if isinstance(value, nn.Module):
            found.append(value)
        elif isinstance(value, attacks.BlackBox):
            found.append(value._model)
        elif isinstance(value, defenses.FeatureSqueezingDetector):
            found.append(value.model)
        elif isinstance(value, list):
            found += [v for v in value if isinstance(v, nn.Module)]
    return found


def _snapshot(kwargs: dict[str, Any]):
    tensors = [(t, t.detach().clone()) for v in kwargs.values() for t in _tensors(v)]
    modules = _modules(kwargs)
    modes = [(m, m.training) for model in modules for m in model.modules()]
    flags = [(p, p.requires_grad, p.grad) for model in modules for p in model.parameters()]
    return tensors, modes, flags


def _check_left_alone(snapshot, case: str) -> list[str]:
    tensors, modes, flags = snapshot
    problems = []
    if any(
        not (before.shape == t.shape and torch.equal(before.nan_to_num(), t.detach().nan_to_num()))
        for t, before in tensors
    ):
        problems.append(f"{case}: an input tensor was modified in place")
    if any(m.training != mode for m, mode in modes):
        problems.append(f"{case}: a submodule's train/eval mode was left changed")
    if any(p.requires_grad != flag for p, flag, _ in flags):
        problems.append(f"{case}: a parameter's requires_grad was left changed")
    if any(p.grad is not grad for p, _, grad in flags):
        problems.append(f"{case}: .grad was left on a parameter")
    return problems


def _last_frame(error: BaseException) -> str:
    return traceback.extract_tb(error.__traceback__)[-1].filename


def _own_error(error: BaseException) -> bool:
    """A refusal of the project's own: TypeError / ValueError, or an exception class helpers defines."""
    return isinstance(error, (TypeError, ValueError)) or type(error).__module__.startswith("helpers")


def _run(
    name: str,
    obj: Any,
    kwargs: dict[str, Any],
    case: str,
    *,
    argument: str | None,
    expect: str,
    trains: bool = False,
    ran: list[int] | None = None,
    differentiable: bool = False,
) -> list[str]:
    """Call, and return what went wrong: ``expect`` is "refuse", "succeed", "refuse-or-finite" or
    "refuse-if-run" (``ran`` counts the bad model's forward passes)."""
    function, kwargs = bind(name, obj, kwargs)
    snapshot = _snapshot(kwargs)
    problems = []
    try:
        result = invoke(function, kwargs)
    except Exception as error:  # noqa: BLE001 - every exception is judged below
        where = _last_frame(error)
        if not _own_error(error) or not where.startswith(HELPERS_DIR):
            problems.append(f"{case}: {type(error).__name__} from {where}: {str(error)[:160]}")
        elif expect == "succeed" and not (trains and "trainable" in str(error)):
            problems.append(f"{case}: refused a valid call: {type(error).__name__}: {str(error)[:160]}")
        elif argument is not None and argument.split("[")[0] not in str(error):
            problems.append(f"{case}: the message does not name {argument!r}: {str(error)[:160]}")
    else:
        if expect == "refuse" or (expect == "refuse-if-run" and ran and ran[0] > 0):
            problems.append(f"{case}: returned a result instead of refusing")
        for out in _tensors(result):
            if name in MINUS_INF_OK and out.is_floating_point():
                out = out.masked_fill(out == -math.inf, 0.0)
            if out.is_floating_point() and not bool(torch.isfinite(out).all()):
                problems.append(f"{case}: returned NaN or infinite values")
                break
            if not differentiable and (out.requires_grad or out.grad_fn is not None):
                problems.append(f"{case}: returned a tensor attached to the graph")
                break
        if isinstance(result, float) and not math.isfinite(result):
            problems.append(f"{case}: returned {result}")
    return problems + _check_left_alone(snapshot, case)


def _counting(model: nn.Module) -> list[int]:
    """Count the forward passes of any leaf module of ``model`` (lrp runs the layers, not the model)."""
    count = [0]

    def hook(*_):
        count[0] += 1

    for m in model.modules():
        if not list(m.children()):
            m.register_forward_pre_hook(hook)
    return count


def _awkward_inputs(
    kind: str = "images",
) -> dict[str, Callable[[], tuple[nn.Module, torch.Tensor, torch.Tensor]]]:
    def base():
        return base_inputs(kind)

    def batch_of_one():
        m, x, y = base()
        return m, x[:1], y[:1]

    def channels_last():
        m, x, y = base()
        return m, x.contiguous(memory_format=torch.channels_last), y

    def non_contiguous():
        m, x, y = base()
        return m, x.transpose(2, 3).contiguous().transpose(2, 3), y

    def requires_grad():
        m, x, y = base()
        return m, x.clone().requires_grad_(True), y

    def train_mode():
        m, x, y = base()
        return m.train(), x, y

    def one_dropout_in_train_mode():
        m, x, y = base()
        m[7].train()
        return m, x, y

    def frozen():
        m, x, y = base()
        m.requires_grad_(False)
        return m, x, y

    if kind != "images":  # no channels_last, no dropout; indices cannot require grad
        awkward = {"batch of 1": batch_of_one, "model in train mode": train_mode, "frozen model": frozen}
        if kind == "waveforms":
            awkward["non-contiguous"] = lambda: (lambda m, x, y: (m, x.t().contiguous().t(), y))(*base())
            awkward["x requires grad"] = requires_grad
        return awkward
    return {
        "batch of 1": batch_of_one,
        "channels_last": channels_last,
        "non-contiguous": non_contiguous,
        "x requires grad": requires_grad,
        "model in train mode": train_mode,
        "one dropout left in train mode": one_dropout_in_train_mode,
        "frozen model": frozen,
    }


def _misuse(name: str) -> list[str]:
    entry, obj = CALLS[name], PUBLIC[name]
    if isinstance(entry, Skip):
        return []
    g = torch.Generator().manual_seed(0)
    model, x, y = base_inputs(entry.inputs)
    valid = entry.build(model, x, y, g)
    function, _ = bind(name, obj, valid)
    params = {p.name: p for p in inspect.signature(function).parameters.values()}
    problems = _run(
        name,
        obj,
        valid,
        f"{name}(valid call)",
        argument=None,
        expect="succeed",
        differentiable=entry.differentiable,
    )
    has_model = any(isinstance(v, (nn.Module, attacks.BlackBox)) for v in valid.values()) or "self" in valid

    def fresh() -> dict[str, Any]:
        torch.manual_seed(0)
        return entry.build(*base_inputs(entry.inputs), torch.Generator().manual_seed(0))

    for arg, param in params.items():
        value = valid.get(arg, param.default)
        if value is inspect.Parameter.empty:
            continue
        cases: list[tuple[str, Any, str]] = []
        if arg in IMAGE_NAMES - entry.not_images and isinstance(value, torch.Tensor) and value.dim() == 4:
            cases += [
                (what, bad, "refuse" if must else "refuse-or-finite")
                for what, (bad, must) in _bad_images(value, has_model).items()
            ]
        elif (
            arg in (IMAGE_NAMES | {"waveforms"}) - entry.not_images
            and entry.inputs == "waveforms"
            and isinstance(value, torch.Tensor)
            and value.dim() == 2
        ):
            cases += [
                (what, bad, "refuse" if must else "refuse-or-finite")
                for what, (bad, must) in _bad_waveforms(value, has_model).items()
            ]
        elif arg == "tokens" and isinstance(value, torch.Tensor) and value.dtype == torch.int64:
            cases += [(what, bad, "refuse") for what, bad in _bad_tokens(value).items()]
        elif arg in LABEL_NAMES and (isinstance(value, torch.Tensor) or type(value) is int):
            n = (
                value.shape[0]
                if isinstance(value, torch.Tensor)
                else len(valid.get("x", valid.get("images", valid.get("tokens", [0]))))
            )
            cases += [(what, bad, "refuse") for what, bad in _bad_labels(value, n).items()]
            if type(value) is int:
                cases.pop(2)  # an int has no length to get wrong
        elif arg == "model" and isinstance(value, nn.Module):
            for what, make in _bad_models(entry.inputs).items():
                problems += _bad_model_case(
                    name, obj, fresh, arg, what, make, differentiable=entry.differentiable
                )
        elif isinstance(value, attacks.BlackBox):
            for what, make in BAD_MODELS.items():
                if what != "not a module":
                    problems += _bad_model_case(name, obj, fresh, arg, what, make, wrap=True)
        elif _annotation(param).startswith("bool") and isinstance(value, bool):
            cases.append(('"False"', "False", "refuse"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and arg not in LABEL_NAMES:
            for what, (bad, rule) in _bad_numbers(value, _annotation(param)).items():
                if rule == "refuse-negative":
                    rule = "refuse-or-finite" if arg in NEGATIVE_OK.get(name, set()) else "refuse"
                cases.append((what, bad, rule))
        elif _annotation(param) == "str" and isinstance(value, str):
            cases.append(("a list for a str", [value], "refuse"))
        for what, bad, expect in cases:
            kwargs = fresh()
            kwargs[arg] = bad
            problems += _run(
                name, obj, kwargs, f"{name}({arg}={what})", argument=arg, expect=expect,
                differentiable=entry.differentiable,
            )

    for extra_name, arg, make in EXTRA:
        if extra_name == name:
            kwargs = fresh()
            kwargs[arg] = make(*base_inputs(entry.inputs), torch.Generator().manual_seed(0))
            problems += _run(
                name,
                obj,
                kwargs,
                f"{name}({arg}=<{type(kwargs[arg]).__name__} from EXTRA>)",
                argument=arg,
                expect="refuse",
            )

    if entry.awkward:
        for what, make in _awkward_inputs(entry.inputs).items():
            m, xa, ya = make()
            kwargs = entry.build(m, xa, ya, torch.Generator().manual_seed(0))
            problems += _run(
                name,
                obj,
                kwargs,
                f"{name}[{what}]",
                argument=None,
                expect="succeed",
                trains=entry.trains and what == "frozen model",
                differentiable=entry.differentiable,
            )
    return problems


def _bad_model_case(
    name, obj, fresh, arg, what, make, wrap: bool = False, differentiable: bool = False
) -> list[str]:
    bad = make()
    ran = _counting(bad) if isinstance(bad, nn.Module) else [0]
    kwargs = fresh()
    if wrap:
        old = kwargs[arg]
        kwargs[arg] = attacks.BlackBox(bad, output=old.output, budget=old.budget)
        if "self" in kwargs:
            return []
    elif "self" in kwargs:
        return []
    else:
        kwargs[arg] = bad
    expect = "refuse" if what in ("not a module", "float64 model, float32 images") else "refuse-if-run"
    if what.startswith("float64") and not any(k in IMAGE_NAMES for k in kwargs):
        expect = "refuse-or-finite"  # nothing to compare the model's dtype with
    return _run(
        name,
        obj,
        kwargs,
        f"{name}({arg}: {what})",
        argument="model" if not wrap else "model",
        expect=expect,
        ran=ran,
        differentiable=differentiable,
    )


@pytest.fixture
def no_png(monkeypatch):
    """The explorers build their figures as usual, but skip rasterising them: the contract is under test."""
    from helpers import widgets

    monkeypatch.setattr(widgets, "_png", lambda figure: b"")


@pytest.mark.parametrize("name", sorted(n for n, e in CALLS.items() if isinstance(e, Call)))
def test_misuse(name, no_png):
    if name not in PUBLIC:
        pytest.skip("stale entry: test_every_public_callable_has_an_entry reports it")
    torch.set_num_threads(1)
    problems = _misuse(name)
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_battery_catches_a_silent_result():
    """The test can fail: a function that clamps bad pixels and ignores NaN options is caught."""

    def careless(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float) -> torch.Tensor:
        return (x + eps).clamp(0, 1).detach()

    CALLS["tests.careless"] = Call(lambda m, x, y, g: dict(model=m, x=x, y=y, eps=0.1))
    PUBLIC["tests.careless"] = careless
    try:
        problems = _misuse("tests.careless")
    finally:
        del CALLS["tests.careless"], PUBLIC["tests.careless"]
    assert any("returned a result instead of refusing" in p for p in problems)
    assert any("(eps=NaN)" in p for p in problems)


# ------------------------------------------------------------------------------- outputs that are not logits

class _Softmaxed(nn.Module):
    """A model with the pitfall: a softmax left at its end, so it returns probabilities."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).softmax(1)


PROBABILITY_CALLS = sorted(name for name in CALLS if takes_model(name) and CALLS[name].inputs == "images")


@pytest.mark.parametrize("name", PROBABILITY_CALLS)
def test_a_model_returning_probabilities_is_never_silent(name, no_png):
    """Every public function that runs a model given as ``model`` warns, naming the pitfall, when its
    outputs are probabilities — or refuses it (lrp: no rule for a softmax); the training loops, whose
    cross-entropy would be meaningless, refuse."""
    import warnings

    entry = CALLS[name]
    torch.manual_seed(0)
    kwargs = entry.build(*base_inputs("images"), torch.Generator().manual_seed(0))
    kwargs["model"] = _Softmaxed(kwargs["model"])
    ran = _counting(kwargs["model"])
    function, kwargs = bind(name, PUBLIC[name], kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            invoke(function, kwargs)
        except Exception as error:  # noqa: BLE001 - judged below
            assert _own_error(error), f"{type(error).__name__} from {_last_frame(error)}: {error}"
            assert not entry.trains or "probabilities" in str(error), str(error)
            return
    if ran[0] == 0:
        return  # the function never ran the model
    assert not entry.trains, "a training loop must refuse a model that returns probabilities"
    assert any("returned probabilities" in str(w.message) and "logits" in str(w.message)
               and "softmax" in str(w.message) for w in caught), f"{name} ran a softmax model silently"


def test_the_probability_check_leaves_logits_and_black_box_probabilities_alone():
    """Logits that happen to be small raise nothing; a BlackBox answering probabilities is what a
    black-box attack expects, so SimBA and Square on it do not warn."""
    import warnings

    from helpers._checks import check_logits

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_logits(torch.tensor([[0.2, 0.3], [0.9, 0.05]]))  # in [0, 1], but rows do not sum to 1
        check_logits(torch.tensor([[0.5, 0.5], [1.5, -0.5]]))  # rows sum to 1, but not in [0, 1]
        x, y = tiny_batch(2)
        for output in ("probs", "logits"):
            g = torch.Generator().manual_seed(0)
            attacks.simba(attacks.BlackBox(tiny_cnn(), output=output), x, y, eps=0.1, max_queries=20,
                          generator=g)
            attacks.square_attack(attacks.BlackBox(tiny_cnn(), output=output), x, y, eps=0.1, max_queries=20,
                                  generator=g)
    with pytest.warns(UserWarning, match="returned probabilities"):
        check_logits(torch.tensor([[0.2, 0.8], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="model must return logits for this loss; it returned probabilities"):
        check_logits(torch.tensor([[0.2, 0.8], [1.0, 0.0]]), probabilities="refuse")
