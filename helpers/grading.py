"""Checks for the notebooks' exercises: a clear pass, or what was expected and what came.

    from helpers import grading
    grading.check("saliency", my_saliency)

Each exercise runs the student's function on a few small inputs and compares it with the
library's reference (shape, dtype, values within a tolerance). A failure raises
``ExerciseFailed``, which a notebook shows as one line — never a traceback from the checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers import attacks, explain
from helpers.explain.cam import cam_from_gradients
from helpers.models import Normalize


class ExerciseFailed(AssertionError):
    """An exercise's answer is not yet right; the message says what differs."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"✘ {self}"]


@dataclass(frozen=True)
class Exercise:
    title: str
    cases: Callable[[], list[tuple[tuple, dict]]]  # the arguments of each test call
    reference: Callable[..., torch.Tensor]
    rtol: float = 1e-4
    atol: float = 1e-6


def _small_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        Normalize((0.3,), (0.4,)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 5 * 5, 6),
    )
    return model.eval()


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 10, 10, generator=torch.Generator().manual_seed(seed))


def _model_cases() -> list[tuple[tuple, dict]]:
    return [
        ((_small_cnn(0), _images(3, 1), torch.tensor([0, 2, 5])), {}),
        ((_small_cnn(1), _images(2, 2), 4), {}),
    ]


def _smoothgrad_cases() -> list[tuple[tuple, dict]]:
    return [
        ((_small_cnn(0), _images(3, 1), torch.tensor([1, 2, 3])),
         {"n": 8, "noise_level": 0.2, "generator": torch.Generator().manual_seed(0)}),
        ((_small_cnn(2), _images(2, 3), 0), {"n": 3, "noise_level": 0.0, "generator": torch.Generator().manual_seed(1)}),
    ]


def _reference_smoothgrad(model, x, target, *, n, noise_level, generator):
    """SmoothGrad of the signed gradient, with the noise drawn as the exercise prescribes."""
    if isinstance(target, int):
        target = torch.full((x.shape[0],), target)
    sigma = noise_level * (x.flatten(1).amax(1) - x.flatten(1).amin(1))
    noise = torch.randn((n, *x.shape), generator=generator) * sigma.view(1, -1, 1, 1, 1)
    noisy = (x + noise).flatten(0, 1)
    grads = explain.saliency.raw(model, noisy, target.repeat(n), abs=False)
    return grads.view(n, *x.shape).mean(0)


def _lrp_step_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    cases = []
    for n, j, k, eps in ((2, 5, 3, 1e-6), (4, 7, 2, 0.5)):
        a = torch.rand(n, j, generator=g)
        weight, bias = torch.randn(k, j, generator=g), torch.randn(k, generator=g) * 0.1
        cases.append(((a, weight, bias, torch.rand(n, k, generator=g)), {"epsilon": eps}))
    return cases


def _cam_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    return [((torch.rand(2, 5, 4, 4, generator=g), torch.randn(2, 5, 4, 4, generator=g)), {}),
            ((torch.rand(1, 3, 6, 2, generator=g), torch.randn(1, 3, 6, 2, generator=g)), {})]


def _pointing_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(6, 1, 8, 8, dtype=torch.bool)
    masks[:, :, 2:6, 1:4] = True
    maps = torch.rand(6, 1, 8, 8, generator=g)
    maps[:3, 0, 3, 2] = 2.0  # three images point inside
    return [((maps, masks), {}), ((torch.rand(4, 3, 8, 8, generator=g), masks[:4]), {})]


def _attack_cases(**options) -> Callable[[], list[tuple[tuple, dict]]]:
    def cases() -> list[tuple[tuple, dict]]:
        return [
            ((_small_cnn(0), _images(4, 1), torch.tensor([0, 2, 5, 1])), {"eps": 0.1, **options}),
            ((_small_cnn(3), _images(3, 4), torch.tensor([3, 3, 4])), {"eps": 0.03, **options}),
        ]
    return cases


EXERCISES: dict[str, Exercise] = {
    "saliency": Exercise(
        "gradient saliency |∂f_c/∂x|", _model_cases, lambda m, x, t: explain.saliency(m, x, t, abs=True)
    ),
    "smoothgrad": Exercise("SmoothGrad of the signed gradient", _smoothgrad_cases, _reference_smoothgrad),
    "lrp_epsilon_step": Exercise("one LRP-ε step through a dense layer", _lrp_step_cases, explain.epsilon_step),
    "grad_cam": Exercise("Grad-CAM from a feature map and its gradient", _cam_cases, cam_from_gradients),
    "pointing_game": Exercise("the pointing game", _pointing_cases, explain.pointing_game),
    "fgsm": Exercise("FGSM, one sign step of size ε", _attack_cases(), attacks.fgsm, rtol=0.0, atol=1e-6),
    "ifgsm": Exercise("I-FGSM with projection onto the ε-ball and [0, 1]",
                      _attack_cases(alpha=0.01, steps=5), attacks.ifgsm, rtol=0.0, atol=1e-6),
}


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, torch.Generator):
        return torch.Generator().set_state(value.get_state())
    return value


def _compare(got: Any, expected: torch.Tensor | float, exercise: Exercise) -> str | None:
    """None when ``got`` matches ``expected``; otherwise what differs."""
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"expected a number, got {type(got).__name__}"
        if abs(got - expected) > exercise.atol + exercise.rtol * abs(expected):
            return f"expected {expected:.6g}, got {got:.6g}"
        return None
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}, got {got.dtype}"
    if got.requires_grad:
        return "the result still requires grad: return it .detach()-ed"
    if not torch.isfinite(got).all():
        return "the result contains NaN or infinite values"
    if not torch.allclose(got, expected, rtol=exercise.rtol, atol=exercise.atol):
        worst = (got - expected).abs().flatten().argmax()
        return (
            f"values differ (tolerance rtol={exercise.rtol:g}, atol={exercise.atol:g}): at flat index {int(worst)} "
            f"expected {float(expected.flatten()[worst]):.6g}, got {float(got.flatten()[worst]):.6g}"
        )
    return None


def check(exercise_id: str, answer: Callable[..., Any]) -> None:
    """Run exercise ``exercise_id``'s tests on ``answer``; print ✔ on success, raise ``ExerciseFailed`` otherwise."""
    if exercise_id not in EXERCISES:
        raise ExerciseFailed(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    exercise = EXERCISES[exercise_id]
    if not callable(answer):
        raise ExerciseFailed(f"{exercise_id}: pass your function itself, not {type(answer).__name__}")
    cases = exercise.cases()
    for number, (args, kwargs) in enumerate(cases, start=1):
        expected = exercise.reference(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        inputs = tuple(map(_clone, args))
        try:
            got = answer(*inputs, **{k: _clone(v) for k, v in kwargs.items()})
        except NotImplementedError:
            raise ExerciseFailed(f"{exercise_id}: not implemented yet — replace `raise NotImplementedError()`") from None
        except Exception as error:  # the student's code failed: say how, without our traceback
            raise ExerciseFailed(f"{exercise_id}, test {number}: your function raised {type(error).__name__}: {error}") from None
        problem = _compare(got, expected, exercise)
        if problem is None and any(
            isinstance(a, torch.Tensor) and not torch.equal(a, b) for a, b in zip(inputs, args)
        ):
            problem = "your function modified its input tensor in place"
        if problem is not None:
            raise ExerciseFailed(f"{exercise_id}, test {number} of {len(cases)}: {problem}")
    print(f"✔ {exercise_id}: {exercise.title} — correct on all {len(cases)} tests")


__all__ = ["check", "ExerciseFailed", "EXERCISES"]
