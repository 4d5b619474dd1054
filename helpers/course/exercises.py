"""What the notebooks check, one entry per task: ``EXERCISES`` (functions) and ``QUESTIONS`` (values).

A function exercise's entry carries everything about it: its title, the library's reference, the inputs of
its visible tests (the student's notebook prints their count) and of its hidden tests (other models, images,
targets, ε and shapes, run only at grading with ``check(..., hidden=True)``, so that an answer fitted to the
visible ones fails), its tolerance, a known mistake to recognise and its points. A homework question's entry
carries its title, its allowed answers, its tolerance and its points; its answer is the key
``homework.hw5_reference()[name]``. Adding an exercise is one entry here (with the functions that build its
inputs, beside it); ``grading.check`` and ``marking.POINTS`` read everything else off it. Titles and hints
are English, marked ``N_`` for the grading catalog (``language``); ``grading`` shows them translated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers import attacks, explain
from helpers.audio import relative_db
from helpers.course import homework
from helpers.course.language import N_, _
from helpers.explain.cam import cam_from_gradients
from helpers.models import Normalize

Cases = list[tuple[tuple, dict]]  # the positional and keyword arguments of each test call


@dataclass(frozen=True)
class Exercise:
    """A function exercise: the student's function is called on each case and compared with ``reference``
    (shape, dtype, values within ``rtol`` and ``atol``)."""

    title: str
    reference: Callable[..., Any]
    cases: Callable[[], Cases]  # the visible tests
    hidden: Callable[[], Cases]  # the hidden tests: other inputs than the visible ones
    rtol: float = 1e-4
    atol: float = 1e-6
    # what is compared, computed alike from the student's result and the reference's: measure(result, *args);
    # it raises TypeError or ValueError, with what is wrong, on a result it cannot measure
    measure: Callable[..., torch.Tensor | float] | None = None
    # a known mistake: mistake(*args, **kwargs) is the result it gives; `hint`: what to say when it is matched
    mistake: Callable[..., torch.Tensor] | None = None
    hint: str = ""
    points: int = 1


@dataclass(frozen=True)
class Question:
    """A homework question: the answer is a value (a name, a number, a dict of numbers or maps), compared
    with the answer key ``homework.hw5_reference()[name]``. Wrong values are reported without the key."""

    title: str
    choices: tuple[str, ...] = ()  # for a name: the allowed answers
    rtol: float = 1e-3
    atol: float = 1e-5
    points: int = 1


def _small_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        Normalize((0.3,), (0.4,)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 5 * 5, 6),
    )
    return model.eval()


def _images(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 10, 10, generator=torch.Generator().manual_seed(seed))


def _model_cases() -> Cases:
    return [((_small_cnn(0), _images(3, 1), torch.tensor([0, 2, 5])), {}),
            ((_small_cnn(1), _images(2, 2), 4), {})]


def _hidden_model_cases() -> Cases:
    return [((_small_cnn(7), _images(5, 11), torch.tensor([5, 4, 3, 2, 1])), {}),
            ((_small_cnn(8), _images(1, 12), 3), {})]


def _smoothgrad_cases() -> Cases:
    return [((_small_cnn(0), _images(3, 1), torch.tensor([1, 2, 3])),
             {"n": 8, "noise_level": 0.2, "generator": torch.Generator().manual_seed(0)}),
            ((_small_cnn(2), _images(2, 3), 0),
             {"n": 3, "noise_level": 0.0, "generator": torch.Generator().manual_seed(1)})]


def _hidden_smoothgrad_cases() -> Cases:
    return [((_small_cnn(7), _images(2, 11), torch.tensor([0, 5])),
             {"n": 5, "noise_level": 0.3, "generator": torch.Generator().manual_seed(7)}),
            ((_small_cnn(8), _images(3, 12), 4),
             {"n": 2, "noise_level": 0.05, "generator": torch.Generator().manual_seed(8)})]


def _reference_smoothgrad(model, x, target, *, n, noise_level, generator):
    """SmoothGrad of the signed gradient (the library's), with the noise drawn as the exercise prescribes."""
    return explain.smoothgrad(model, x, target, n=n, noise_level=noise_level, method=explain.saliency,
                              method_kwargs={"abs": False}, generator=generator)


def _clipped_smoothgrad(model, x, target, *, n, noise_level, generator):
    """The mistake the SmoothGrad exercise warns against: the noisy copies clamped to [0, 1]."""
    target = torch.full((len(x),), target) if isinstance(target, int) else target
    sigma = noise_level * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
    noise = torch.randn((n, *x.shape), generator=generator) * sigma.view(1, -1, 1, 1, 1)
    noisy = (x + noise).clamp(0, 1).flatten(0, 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(noisy).gather(1, target.repeat(n)[:, None]).sum(), noisy)
    return grad.view(n, *x.shape).mean(0)


def _lrp_step_cases() -> Cases:
    g = torch.Generator().manual_seed(0)
    cases = []
    for n, j, k, eps in ((2, 5, 3, 1e-6), (4, 7, 2, 0.5)):
        a = torch.rand(n, j, generator=g)
        weight, bias = torch.randn(k, j, generator=g), torch.randn(k, generator=g) * 0.1
        cases.append(((a, weight, bias, torch.rand(n, k, generator=g)), {"epsilon": eps}))
    # z_1 = 1 − 1 + 0 = 0 exactly for the first image: the spec's sign(0) = +1 (torch.sign gives 0 and NaN)
    a = torch.tensor([[1.0, 1.0, 0.5], [0.5, 0.25, 1.0]])
    weight, bias = torch.tensor([[1.0, -1.0, 0.0], [0.5, 1.0, -1.0]]), torch.tensor([0.0, 0.25])
    cases.append(((a, weight, bias, torch.tensor([[1.0, 0.5], [0.25, 1.0]])), {"epsilon": 0.5}))
    return cases


def _hidden_lrp_step_cases() -> Cases:
    g = torch.Generator().manual_seed(7)
    sizes = ((3, 6, 4, 0.1), (1, 3, 5, 2.0))  # (batch n, inputs j, outputs k, ε)
    return [((torch.rand(n, j, generator=g), torch.randn(k, j, generator=g), torch.randn(k, generator=g),
              torch.rand(n, k, generator=g)), {"epsilon": eps}) for n, j, k, eps in sizes]


def _cam_cases(seed: int, shapes: tuple[tuple[int, ...], ...]) -> Callable[[], Cases]:
    """Feature maps and their gradients, one pair per shape N×K×H×W."""
    def cases() -> Cases:
        g = torch.Generator().manual_seed(seed)
        return [((torch.rand(*shape, generator=g), torch.randn(*shape, generator=g)), {}) for shape in shapes]
    return cases


def _pointing_cases() -> Cases:
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(6, 1, 8, 8, dtype=torch.bool)
    masks[:, :, 2:6, 1:4] = True
    maps = torch.rand(6, 1, 8, 8, generator=g)
    maps[:3, 0, 3, 2] = 2.0  # three images point inside
    signed = maps - 0.5
    signed[:, 0, 7, 7] = -4.0  # strong negative evidence outside the mask: not the most relevant pixel
    return [((maps, masks), {}), ((torch.rand(4, 3, 8, 8, generator=g), masks[:4]), {}),
            ((signed, masks), {})]


def _hidden_pointing_cases() -> Cases:
    g = torch.Generator().manual_seed(7)
    masks = torch.zeros(5, 1, 6, 9, dtype=torch.bool)
    masks[:, :, 3:, 5:] = True
    maps = torch.rand(5, 2, 6, 9, generator=g)
    maps[:2, 1, 4, 6] = 3.0  # two of five images point inside
    return [((maps, masks), {})]


def _attack_cases(**options) -> Callable[[], Cases]:
    def cases() -> Cases:
        return [((_small_cnn(0), _images(4, 1), torch.tensor([0, 2, 5, 1])), {"eps": 0.1, **options}),
                ((_small_cnn(3), _images(3, 4), torch.tensor([3, 3, 4])), {"eps": 0.03, **options})]
    return cases


def _hidden_attack_cases(eps: float, **options) -> Callable[[], Cases]:
    def cases() -> Cases:
        return [((_small_cnn(7), _images(5, 11), torch.tensor([5, 4, 3, 2, 1])), {"eps": eps, **options}),
                ((_small_cnn(8), _images(2, 12), torch.tensor([0, 0])), {"eps": eps / 4, **options})]
    return cases


def _waveform_cases() -> Cases:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 400, generator=g) * 2 - 1) * torch.tensor([[0.9], [0.2], [0.05]])
    delta = (torch.rand(3, 400, generator=g) * 2 - 1) * torch.tensor([[0.01], [0.03], [0.0005]])
    return [((delta, x), {}), ((x[:1] * 0.5, x[:1]), {})]


def _hidden_waveform_cases() -> Cases:
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(2, 250, generator=g) * 2 - 1) * torch.tensor([[0.6], [0.01]])
    return [(((torch.rand(2, 250, generator=g) * 2 - 1) * 0.003, x), {})]


def _flip_cases() -> Cases:
    g = torch.Generator().manual_seed(1)
    return [((torch.randn(2, 5, 7, generator=g), torch.randint(1, 7, (2, 5), generator=g)), {}),
            ((torch.randn(1, 3, 4, generator=g), torch.tensor([[2, 1, 0]])), {})]


def _hidden_flip_cases() -> Cases:
    g = torch.Generator().manual_seed(7)
    return [((torch.randn(3, 4, 9, generator=g), torch.randint(0, 9, (3, 4), generator=g)), {})]


def _tag_mass_cases() -> Cases:
    g = torch.Generator().manual_seed(0)
    tag = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    tag[..., 1:3, 1:4] = True
    maps = torch.randn(5, 1, 8, 8, generator=g)
    maps[:2, :, 1:3, 1:4] *= 10.0  # two maps point at the tag
    maps[4] = 0.0  # an all-zero map scores 0
    signed = torch.randn(3, 3, 8, 8, generator=g)  # signed channels that cancel: |Σ_c h| ≠ Σ_c |h|
    signed[:, 1] = -signed[:, 0]
    return [((maps, tag.expand(5, -1, -1, -1)), {}),
            ((torch.rand(3, 3, 8, 8, generator=g), tag.expand(3, -1, -1, -1)), {}),
            ((signed, tag.expand(3, -1, -1, -1)), {})]


def _hidden_tag_mass_cases() -> Cases:
    g = torch.Generator().manual_seed(7)
    tag = torch.zeros(4, 1, 6, 6, dtype=torch.bool)
    tag[..., :2, 4:] = True
    return [((torch.randn(4, 2, 6, 6, generator=g), tag), {})]


def _rrr_cases() -> Cases:
    masks = torch.zeros(2, 1, 1, 10, 10)
    masks[0, ..., :3, :3] = 1.0
    masks[1, ..., 4:, 2:7] = 0.5
    return [((_small_cnn(0), _images(4, 1), masks[0]), {}), ((_small_cnn(1), _images(3, 2), masks[1]), {})]


def _hidden_rrr_cases() -> Cases:
    mask = torch.zeros(1, 1, 10, 10)
    mask[..., 5:, :4] = 1.0
    return [((_small_cnn(7), _images(2, 11), mask), {})]


def _value_and_parameter_gradient(penalty: Any, model: nn.Module, *_inputs: Any) -> torch.Tensor:
    """The penalty's value and its gradient with respect to the model's parameters, one vector: a training
    loss must be differentiable in the weights, through the input gradient."""
    if not isinstance(penalty, torch.Tensor) or penalty.numel() != 1:
        raise TypeError(_("expected a scalar tensor, got {type}", type=type(penalty).__name__))
    if not penalty.requires_grad:
        raise ValueError(_("the penalty cannot be differentiated with respect to the model's weights — "
                           "take the input gradient with torch.autograd.grad(..., create_graph=True)"))
    grads = torch.autograd.grad(penalty.reshape(()), list(model.parameters()), allow_unused=True)
    flat = [g.flatten() if g is not None else torch.zeros(p.numel())
            for g, p in zip(grads, model.parameters())]
    return torch.cat([penalty.detach().reshape(1), *flat]).detach()


EXERCISES: dict[str, Exercise] = {
    "saliency": Exercise(N_("gradient saliency |∂f_c/∂x|"),
                         lambda m, x, t: explain.saliency(m, x, t, abs=True),
                         _model_cases, _hidden_model_cases),
    "smoothgrad": Exercise(
        N_("SmoothGrad of the signed gradient"), _reference_smoothgrad,
        _smoothgrad_cases, _hidden_smoothgrad_cases, mistake=_clipped_smoothgrad,
        hint=N_("your noisy copies look clipped to [0, 1]: keep them as drawn, do not clamp "
                "(the noise probes the gradient around x; it does not make new images)")),
    "lrp_epsilon_step": Exercise(N_("one LRP-ε step through a dense layer"), explain.epsilon_step,
                                 _lrp_step_cases, _hidden_lrp_step_cases),
    "grad_cam": Exercise(N_("Grad-CAM from a feature map and its gradient"), cam_from_gradients,
                         _cam_cases(0, ((2, 5, 4, 4), (1, 3, 6, 2))),
                         _cam_cases(7, ((3, 2, 5, 7), (1, 8, 3, 3)))),
    "pointing_game": Exercise(N_("the pointing game"), explain.pointing_game,
                              _pointing_cases, _hidden_pointing_cases),
    "fgsm": Exercise(N_("FGSM, one sign step of size ε"), attacks.fgsm,
                     _attack_cases(), _hidden_attack_cases(0.2), rtol=0.0, atol=1e-6),
    "ifgsm": Exercise(N_("I-FGSM with projection onto the ε-ball and [0, 1]"), attacks.ifgsm,
                      _attack_cases(alpha=0.01, steps=5), _hidden_attack_cases(0.05, alpha=0.02, steps=3),
                      rtol=0.0, atol=1e-6),
    "relative_db": Exercise(N_("a perturbation's loudness relative to its clip, dB_x(δ) = dB(δ) − dB(x)"),
                            relative_db, _waveform_cases, _hidden_waveform_cases, rtol=0.0, atol=1e-4),
    "flip_gain": Exercise(N_("HotFlip's first-order gain ∂L/∂X_{i,b} − ∂L/∂X_{i,x_i} of every flip"),
                          attacks.flip_gain, _flip_cases, _hidden_flip_cases, rtol=0.0, atol=1e-6),
    "tag_mass": Exercise(N_("relevance mass on the tag"), explain.relevance_mass,
                         _tag_mass_cases, _hidden_tag_mass_cases),
    "rrr_penalty": Exercise(N_("the right-for-the-right-reasons penalty"), explain.rrr_penalty,
                            _rrr_cases, _hidden_rrr_cases, measure=_value_and_parameter_gradient),
}

QUESTIONS: dict[str, Question] = {
    "hw5_explanations": Question(N_("the five explanations with the prescribed settings"), rtol=1e-3,
                                 atol=1e-5, points=2),
    "hw5_deletion": Question(N_("mean deletion AUC of each method, deleting to black"), rtol=1e-3, atol=1e-4),
    "hw5_most_faithful": Question(N_("the most faithful method by deletion to black"),
                                  choices=homework.HW5_METHODS),
    "hw5_pointing": Question(N_("pointing-game score of each method on shapes, no tolerance"),
                             rtol=0.0, atol=1e-6),
    "hw5_worst_pointer": Question(N_("the method that misses the object most often"),
                                  choices=homework.HW5_METHODS),
}

__all__ = ["EXERCISES", "QUESTIONS", "Cases", "Exercise", "Question"]
