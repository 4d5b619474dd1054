"""The tensor contract of DESIGN.md, checked on every device for each public function or class that takes a
``model``, by its valid call in ``tests/calls.py`` (``CALLS``)."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import traceback

import pytest
import torch
from torch import nn

import helpers
from helpers import attacks, defenses
from tests.calls import CALLS, KINDS, PUBLIC, bind, invoke, takes_model
from tests.conftest import DEVICES, tiny_batch, tiny_cnn

IMAGE_ARGS = {"x", "images", "x_adv"}


def _public_model_functions() -> set[str]:
    """Qualified names of public functions of helpers whose arguments include a model and images."""
    found = set()
    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        if any(part.startswith("_") for part in info.name.split(".")):  # private, or in a private package
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            params = set(inspect.signature(obj).parameters)
            if "model" in params and params & IMAGE_ARGS:
                found.add(f"{module.__name__}.{name}")
    return found


CONTRACT = sorted(name for name in CALLS if takes_model(name))  # the entries that take a model


def test_every_model_function_is_registered():
    missing = _public_model_functions() - set(CONTRACT)
    assert not missing, f"add a valid call of these functions to CALLS in tests/calls.py: {sorted(missing)}"


def _call(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    """Entry ``name`` of CALLS, run on this model and batch."""
    kwargs = CALLS[name].build(model, x, y, torch.Generator().manual_seed(0))
    function, kwargs = bind(name, PUBLIC[name], kwargs)
    return invoke(function, kwargs)


def _outputs(result):
    if isinstance(result, torch.Tensor):
        yield result
    elif isinstance(result, (tuple, list)):
        for item in result:
            yield from _outputs(item)
    elif isinstance(result, dict):
        for item in result.values():
            yield from _outputs(item)


@pytest.mark.parametrize("name", CONTRACT)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("training_mode", [True, False], ids=["train-mode", "eval-mode"])
def test_contract(name, device, training_mode):
    entry = CALLS[name]
    make_model, make_batch = KINDS[entry.inputs]
    model = make_model().to(device).train(training_mode)
    frozen_param = next(model.parameters())
    frozen_param.requires_grad_(False)  # a user's frozen layer must stay frozen
    flags = [p.requires_grad for p in model.parameters()]
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = make_batch(6)
    x, y = x.to(device), y.to(device)
    x_before, y_before = x.clone(), y.clone()

    result = _call(name, model, x, y)

    assert torch.equal(x, x_before), "the images were modified in place"
    assert torch.equal(y, y_before), "the labels were modified in place"
    assert model.training == training_mode, "model.training was not restored"
    assert [p.requires_grad for p in model.parameters()] == flags, "requires_grad was not restored"
    assert all(p.grad is None for p in model.parameters()), ".grad was left on the model's parameters"
    if not entry.trains:
        for k, v in model.state_dict().items():
            assert torch.equal(v, weights[k]), f"the model's {k} changed"
    for out in _outputs(result):
        if not entry.differentiable:  # a building block used inside autograd (a loss) keeps its graph
            assert not out.requires_grad and out.grad_fn is None, "output is not detached"
        assert out.device == x.device, f"output on {out.device}, input on {x.device}"


def test_wrapped_eval_model_stays_in_eval_mode():
    """A train-mode wrapper around an eval-mode model: each module gets its own mode back."""
    from helpers.training import accuracy

    inner = tiny_cnn().eval()
    wrapper = nn.Sequential(inner)  # a new module starts in train mode; the model inside stays in eval mode
    assert wrapper.training and not inner.training
    x, y = tiny_batch()
    accuracy(wrapper, x, y)
    assert wrapper.training and not any(m.training for m in inner.modules())


class _Wrapped(torch.nn.Module):
    """Not a plain Sequential: its number of classes must be measured, not read off."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, :3]


def test_num_classes_read_off_and_measured_agree_and_labels_are_checked_against_them():
    from helpers._checks import num_classes
    from helpers.attacks import fgsm

    x, y = tiny_batch(4)
    model = tiny_cnn(classes=5).eval()
    assert num_classes(model, x) == 5  # read off the last Linear
    assert num_classes(torch.nn.Sequential(model), x) == 5  # measured: the last layer is a Sequential
    assert num_classes(_Wrapped(model), x) == 3  # measured
    with pytest.raises(ValueError, match="y must hold classes in 0…2"):
        fgsm(_Wrapped(model), x, torch.tensor([0, 1, 2, 4]), eps=0.1)


@pytest.mark.parametrize("bad, message", [
    (float("nan"), "NaN or infinite"),
    (float("inf"), "NaN or infinite"),
    (-float("inf"), "NaN or infinite"),
    (-0.5, r"got min -0\.5"),
])
def test_images_with_nan_inf_or_out_of_range_values_are_refused(bad, message):
    from helpers.explain import saliency

    x, y = tiny_batch(2)
    x = x.clone()
    x[1, 0, 3, 4] = bad
    with pytest.raises(ValueError, match=f"x (contains|must lie).*{message}"):
        saliency(tiny_cnn(), x, y)


@pytest.mark.parametrize("name", [n for n in CONTRACT if CALLS[n].inputs == "images"])
@pytest.mark.parametrize("shape", [(6, 3, 12, 12), (6, 1, 16, 16)], ids=["3-channels", "16x16"])
def test_images_the_model_cannot_take_are_named(name, shape):
    """Colour images into a grey model, or a larger H×W than its dense layer takes: an error naming x (or a
    refusal of the argument before the model runs), never torch's shape error from inside a layer."""
    model = tiny_cnn()
    _, y = tiny_batch()
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    try:
        _call(name, model, x, y)
    except (ValueError, TypeError) as error:
        raised_in = traceback.extract_tb(error.__traceback__)[-1].filename
        assert f"{os.sep}helpers{os.sep}" in raised_in, f"raised from {raised_in}: {error!r}"
        assert error.__cause__ is None or "x does not fit model" in str(error), error
    assert model.training  # left as it was found, errors included


def test_numpy_integers_are_ints():
    """A batch size or a number of steps computed with NumPy is an int like any other."""
    import numpy as np

    from helpers import training
    from helpers.explain import integrated_gradients

    model = tiny_cnn()
    x, y = tiny_batch()
    by_numpy = training.predict(model, x, batch_size=np.int64(4))
    assert torch.equal(by_numpy, training.predict(model, x, batch_size=4))
    ig = integrated_gradients(model, x, y, steps=np.int64(4), batch_size=np.int32(5))
    assert torch.allclose(ig, integrated_gradients(model, x, y, steps=4, batch_size=5))


def test_no_name_in_a_package_hides_one_of_its_modules():
    """``import helpers.P.M as m`` binds attribute M of package P: a function re-exported under a module's
    name would hide the module (as ``lrp``, ``spray`` and ``apgd`` once did)."""
    hidden = []
    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        parent, _, leaf = info.name.rpartition(".")
        attribute = getattr(importlib.import_module(parent), leaf, None)
        if attribute is not None and not inspect.ismodule(attribute):
            hidden.append(info.name)
    assert not hidden, f"these modules are hidden by a name in their package: {hidden}"


def test_course_modules_use_one_another_through_their_public_names():
    """``helpers.course``'s modules use one another only through the names each lists in ``__all__`` (and
    the package's ``__init__`` lists its modules): no module reaches for another's ``_private`` name."""
    import ast

    import helpers.course as course

    package = importlib.import_module("helpers.course")
    modules = {name: importlib.import_module(f"helpers.course.{name}") for name in course.__all__}
    assert sorted(modules) == sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    wrong = []
    for name, module in modules.items():
        tree = ast.parse(inspect.getsource(module))
        bound = {}  # local name -> the course module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "helpers.course":
                for alias in node.names:
                    if alias.name not in modules:
                        wrong.append(f"{name}: from helpers.course import {alias.name}")
                    bound[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers.course."):
                other = node.module.rsplit(".", 1)[-1]
                wrong += [f"{name}: from {node.module} import {alias.name}" for alias in node.names
                          if alias.name not in modules[other].__all__]
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
                continue
            if node.value.id in bound and node.attr not in modules[bound[node.value.id]].__all__:
                wrong.append(f"{name}: {node.value.id}.{node.attr}")
    assert not wrong, f"names used across helpers.course that are not in the other module's __all__: {wrong}"


def test_wrappers_are_views():
    """Wrapping never changes the wrapped models' modes (the issue's Ensemble / Defended / eot cases)."""
    m1, m2 = tiny_cnn().eval(), tiny_cnn(seed=1).train()
    attacks.ensemble([m1, m2])
    assert not any(m.training for m in m1.modules()) and all(m.training for m in m2.modules())
    inner = tiny_cnn().eval()
    inner[7].train()  # a dropout the user left in train mode on purpose
    for wrapper in (
        defenses.Defended(nn.Sequential(inner), defenses.median_filter),
        attacks.eot(inner, defenses.median_filter, 2),
    ):
        assert [m.training for m in inner.modules()] == [i == 8 for i in range(len(list(inner.modules())))]
        del wrapper


def _boom(*_):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "run",
    [
        lambda m, x, y: helpers.training.train(m, x, y, epochs=1, lr=1e-3, loss_fn=_boom, progress=False),
        lambda m, x, y: defenses.adversarial_training(m, x, y, attack=_boom, rounds=1, progress=False),
        lambda m, x, y: defenses.pgd_training(
            m, x, y, eps=0.1, alpha=0.05, steps=1, epochs=1, progress=False,
            generator=torch.Generator().manual_seed(0),
        ) and _boom(),
        lambda m, x, y: attacks.fgsm(defenses.Defended(m, _boom), x, y, eps=0.1),
        lambda m, x, y: attacks.pgd(attacks.eot(m, _boom, 2), x, y, eps=0.1, alpha=0.05, steps=1),
    ],
    ids=["train", "adversarial_training", "pgd_training", "Defended", "eot"],
)
def test_every_submodule_mode_comes_back_on_an_error_path(run):
    """An error half-way (a failing loss, attack or filter) leaves each submodule in the mode it was in."""
    import helpers.training  # noqa: F401

    model = tiny_cnn().eval()
    model[7].train()  # a dropout the user left in train mode on purpose
    modes = [m.training for m in model.modules()]
    x, y = tiny_batch(4)
    with pytest.raises(RuntimeError, match="boom"):
        run(model, x, y)
    assert [m.training for m in model.modules()] == modes
    assert all(p.grad is None for p in model.parameters())
