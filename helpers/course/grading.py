"""Checks for the notebooks' exercises: a clear pass, or what was expected and what came.

    from helpers.course import grading
    grading.check("saliency", my_saliency)        # an exercise whose answer is a function
    grading.check("hw5_most_faithful", answer)    # a homework question whose answer is a value
    grading.judge(x_adv)                          # homework 6: a submission against the baselines

A function exercise runs the student's function on a few small inputs and compares it with the
library's reference (shape, dtype, values within a tolerance). A homework question compares the
student's value with the answer key in ``helpers.course.homework`` — without printing the key. A failure
raises ``ExerciseFailed`` (``judge``: ``SubmissionRejected``), which a notebook shows as one line —
never a traceback from the checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from helpers import attacks, explain
from helpers.course import homework
from helpers._checks import check_bool
from helpers.audio import relative_db
from helpers.explain.cam import cam_from_gradients
from helpers.course.hw6_server import RemoteBlackBox
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
    # what is compared, computed alike from the student's result and the reference's: measure(result, *args)
    measure: Callable[..., torch.Tensor | float] | None = None
    # a known mistake: mistake(*args, **kwargs) is the result it gives; `hint`: what to say when it is matched
    mistake: Callable[..., torch.Tensor] | None = None
    hint: str = ""


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
        ((_small_cnn(2), _images(2, 3), 0),
         {"n": 3, "noise_level": 0.0, "generator": torch.Generator().manual_seed(1)}),
    ]


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


def _lrp_step_cases() -> list[tuple[tuple, dict]]:
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
    signed = maps - 0.5
    signed[:, 0, 7, 7] = -4.0  # strong negative evidence outside the mask: not the most relevant pixel
    return [((maps, masks), {}), ((torch.rand(4, 3, 8, 8, generator=g), masks[:4]), {}),
            ((signed, masks), {})]


def _attack_cases(**options) -> Callable[[], list[tuple[tuple, dict]]]:
    def cases() -> list[tuple[tuple, dict]]:
        return [
            ((_small_cnn(0), _images(4, 1), torch.tensor([0, 2, 5, 1])), {"eps": 0.1, **options}),
            ((_small_cnn(3), _images(3, 4), torch.tensor([3, 3, 4])), {"eps": 0.03, **options}),
        ]
    return cases


def _waveform_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 400, generator=g) * 2 - 1) * torch.tensor([[0.9], [0.2], [0.05]])
    delta = (torch.rand(3, 400, generator=g) * 2 - 1) * torch.tensor([[0.01], [0.03], [0.0005]])
    return [((delta, x), {}), ((x[:1] * 0.5, x[:1]), {})]


def _flip_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(1)
    return [((torch.randn(2, 5, 7, generator=g), torch.randint(1, 7, (2, 5), generator=g)), {}),
            ((torch.randn(1, 3, 4, generator=g), torch.tensor([[2, 1, 0]])), {})]


def _tag_mass_cases() -> list[tuple[tuple, dict]]:
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


def _rrr_cases() -> list[tuple[tuple, dict]]:
    masks = torch.zeros(2, 1, 1, 10, 10)
    masks[0, ..., :3, :3] = 1.0
    masks[1, ..., 4:, 2:7] = 0.5
    return [((_small_cnn(0), _images(4, 1), masks[0]), {}), ((_small_cnn(1), _images(3, 2), masks[1]), {})]


def _value_and_parameter_gradient(penalty: Any, model: nn.Module, *_: Any) -> torch.Tensor:
    """The penalty's value and its gradient with respect to the model's parameters, one vector: a training
    loss must be differentiable in the weights, through the input gradient."""
    if not isinstance(penalty, torch.Tensor) or penalty.numel() != 1:
        raise ExerciseFailed(f"expected a scalar tensor, got {type(penalty).__name__}")
    if not penalty.requires_grad:
        raise ExerciseFailed("the penalty cannot be differentiated with respect to the model's weights — "
                             "take the input gradient with torch.autograd.grad(..., create_graph=True)")
    grads = torch.autograd.grad(penalty.reshape(()), list(model.parameters()), allow_unused=True)
    flat = [g.flatten() if g is not None else torch.zeros(p.numel())
            for g, p in zip(grads, model.parameters())]
    return torch.cat([penalty.detach().reshape(1), *flat]).detach()


EXERCISES: dict[str, Exercise] = {
    "saliency": Exercise(
        "gradient saliency |∂f_c/∂x|", _model_cases, lambda m, x, t: explain.saliency(m, x, t, abs=True)
    ),
    "smoothgrad": Exercise("SmoothGrad of the signed gradient", _smoothgrad_cases, _reference_smoothgrad,
                           mistake=_clipped_smoothgrad,
                           hint="your noisy copies look clipped to [0, 1]: keep them as drawn, do not clamp "
                                "(the noise probes the gradient around x; it does not make new images)"),
    "lrp_epsilon_step": Exercise(
        "one LRP-ε step through a dense layer", _lrp_step_cases, explain.epsilon_step
    ),
    "grad_cam": Exercise("Grad-CAM from a feature map and its gradient", _cam_cases, cam_from_gradients),
    "pointing_game": Exercise("the pointing game", _pointing_cases, explain.pointing_game),
    "fgsm": Exercise("FGSM, one sign step of size ε", _attack_cases(), attacks.fgsm, rtol=0.0, atol=1e-6),
    "ifgsm": Exercise("I-FGSM with projection onto the ε-ball and [0, 1]",
                      _attack_cases(alpha=0.01, steps=5), attacks.ifgsm, rtol=0.0, atol=1e-6),
    "relative_db": Exercise("a perturbation's loudness relative to its clip, dB_x(δ) = dB(δ) − dB(x)",
                            _waveform_cases, relative_db, rtol=0.0, atol=1e-4),
    "flip_gain": Exercise("HotFlip's first-order gain ∂L/∂X_{i,b} − ∂L/∂X_{i,x_i} of every flip",
                          _flip_cases, attacks.flip_gain, rtol=0.0, atol=1e-6),
    "tag_mass": Exercise("relevance mass on the tag", _tag_mass_cases, explain.relevance_mass),
    "rrr_penalty": Exercise("the right-for-the-right-reasons penalty", _rrr_cases, explain.rrr_penalty,
                            rtol=1e-4, atol=1e-6, measure=_value_and_parameter_gradient),
}


def _hidden_attack_cases(eps: float, **options) -> Callable[[], list[tuple[tuple, dict]]]:
    def cases() -> list[tuple[tuple, dict]]:
        return [((_small_cnn(7), _images(5, 11), torch.tensor([5, 4, 3, 2, 1])), {"eps": eps, **options}),
                ((_small_cnn(8), _images(2, 12), torch.tensor([0, 0])), {"eps": eps / 4, **options})]
    return cases


def _hidden_lrp_step_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    sizes = ((3, 6, 4, 0.1), (1, 3, 5, 2.0))  # (batch n, inputs j, outputs k, ε)
    return [((torch.rand(n, j, generator=g), torch.randn(k, j, generator=g), torch.randn(k, generator=g),
              torch.rand(n, k, generator=g)), {"epsilon": eps}) for n, j, k, eps in sizes]


def _hidden_cam_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    return [((torch.rand(3, 2, 5, 7, generator=g), torch.randn(3, 2, 5, 7, generator=g)), {}),
            ((torch.rand(1, 8, 3, 3, generator=g), torch.randn(1, 8, 3, 3, generator=g)), {})]


def _hidden_pointing_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    masks = torch.zeros(5, 1, 6, 9, dtype=torch.bool)
    masks[:, :, 3:, 5:] = True
    maps = torch.rand(5, 2, 6, 9, generator=g)
    maps[:2, 1, 4, 6] = 3.0  # two of five images point inside
    return [((maps, masks), {})]


def _hidden_waveform_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(2, 250, generator=g) * 2 - 1) * torch.tensor([[0.6], [0.01]])
    return [(((torch.rand(2, 250, generator=g) * 2 - 1) * 0.003, x), {})]


def _hidden_flip_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    return [((torch.randn(3, 4, 9, generator=g), torch.randint(0, 9, (3, 4), generator=g)), {})]


def _hidden_tag_mass_cases() -> list[tuple[tuple, dict]]:
    g = torch.Generator().manual_seed(7)
    tag = torch.zeros(4, 1, 6, 6, dtype=torch.bool)
    tag[..., :2, 4:] = True
    return [((torch.randn(4, 2, 6, 6, generator=g), tag), {})]


def _hidden_rrr_cases() -> list[tuple[tuple, dict]]:
    mask = torch.zeros(1, 1, 10, 10)
    mask[..., 5:, :4] = 1.0
    return [((_small_cnn(7), _images(2, 11), mask), {})]


# The hidden tests of the function exercises (``check(..., hidden=True)``): other models, images, targets,
# ε and shapes than the visible tests, so that an answer fitted to those fails. nbgrader keeps them from
# the students.
HIDDEN_CASES: dict[str, Callable[[], list[tuple[tuple, dict]]]] = {
    "saliency": lambda: [((_small_cnn(7), _images(5, 11), torch.tensor([5, 4, 3, 2, 1])), {}),
                         ((_small_cnn(8), _images(1, 12), 3), {})],
    "smoothgrad": lambda: [((_small_cnn(7), _images(2, 11), torch.tensor([0, 5])),
                            {"n": 5, "noise_level": 0.3, "generator": torch.Generator().manual_seed(7)}),
                           ((_small_cnn(8), _images(3, 12), 4),
                            {"n": 2, "noise_level": 0.05, "generator": torch.Generator().manual_seed(8)})],
    "lrp_epsilon_step": _hidden_lrp_step_cases,
    "grad_cam": _hidden_cam_cases,
    "pointing_game": _hidden_pointing_cases,
    "fgsm": _hidden_attack_cases(0.2),
    "ifgsm": _hidden_attack_cases(0.05, alpha=0.02, steps=3),
    "relative_db": _hidden_waveform_cases,
    "flip_gain": _hidden_flip_cases,
    "tag_mass": _hidden_tag_mass_cases,
    "rrr_penalty": _hidden_rrr_cases,
}


@dataclass(frozen=True)
class Question:
    """A homework question: the answer is a value (a name, a number, a dict of numbers or maps), compared
    with the answer key ``homework.hw5_reference()[id]``. Wrong values are reported without the key."""

    title: str
    choices: tuple[str, ...] = ()  # for a name: the allowed answers
    rtol: float = 1e-3
    atol: float = 1e-5


QUESTIONS: dict[str, Question] = {
    "hw5_explanations": Question("the five explanations with the prescribed settings", rtol=1e-3, atol=1e-5),
    "hw5_deletion": Question("mean deletion AUC of each method, deleting to black", rtol=1e-3, atol=1e-4),
    "hw5_most_faithful": Question("the most faithful method by deletion to black",
                                  choices=homework.HW5_METHODS),
    "hw5_pointing": Question("pointing-game score of each method on shapes, no tolerance",
                             rtol=0.0, atol=1e-6),
    "hw5_worst_pointer": Question(
        "the method that misses the object most often", choices=homework.HW5_METHODS
    ),
}


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, torch.Generator):
        return torch.Generator().set_state(value.get_state())
    return value


def _compare(got: Any, expected: Any, spec: Exercise | Question, where: str = "") -> str | None:
    """None when ``got`` matches ``expected``; otherwise what differs. For an exercise (a reference
    function's result) the message shows the expected value; for a homework ``Question`` it never shows
    the key's value."""
    reveal, at = isinstance(spec, Exercise), f" at {where}" if where else ""
    tolerance = f"(rtol={spec.rtol:g}, atol={spec.atol:g})"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"expected a dict with keys {sorted(expected)}, got {type(got).__name__}"
        if set(got) != set(expected):
            missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
            return f"the dict's keys differ: missing {missing}, unexpected {extra}"
        problems = (_compare(got[key], expected[key], spec, repr(key)) for key in expected)
        return next((problem for problem in problems if problem is not None), None)
    if isinstance(expected, str):
        if not isinstance(got, str):
            return f"expected a name (str){at}, got {type(got).__name__}"
        if spec.choices and got not in spec.choices:
            return f"{got!r} is not one of {list(spec.choices)}"
        return None if got == expected else f"{got!r} is not the answer — look at your measurements again"
    if isinstance(expected, float):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"expected a number{at}, got {type(got).__name__}"
        if abs(got - expected) <= spec.atol + spec.rtol * abs(expected):
            return None
        if reveal:
            return f"expected {expected:.6g}, got {got:.6g}"
        return (f"{got:.6g}{at} differs from the reference by more than the tolerance "
                f"{tolerance} — check the prescribed settings")
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor{at}, got {type(got).__name__}"
    if got.shape != expected.shape:
        return f"expected shape {tuple(expected.shape)}{at}, got {tuple(got.shape)}"
    if got.dtype != expected.dtype:
        return f"expected dtype {expected.dtype}{at}, got {got.dtype}"
    if reveal and got.requires_grad:
        return "the result still requires grad: return it .detach()-ed"
    if reveal and not torch.isfinite(got).all():
        return "the result contains NaN or infinite values"
    got = got.detach().cpu()
    if torch.allclose(got, expected, rtol=spec.rtol, atol=spec.atol):
        return None
    if reveal:
        worst = (got - expected).abs().flatten().argmax()
        return (f"values differ (tolerance rtol={spec.rtol:g}, atol={spec.atol:g}): "
                f"at flat index {int(worst)} expected {float(expected.flatten()[worst]):.6g}, "
                f"got {float(got.flatten()[worst]):.6g}")
    return (f"the values{at} differ from the reference by more than the tolerance "
            f"{tolerance} — check the prescribed settings")


def _check_question(question_id: str, answer: Any) -> None:
    question = QUESTIONS[question_id]
    if callable(answer) and not isinstance(answer, torch.Tensor):
        raise ExerciseFailed(f"{question_id}: this question wants a value, not a function — "
                             "call it and pass the result")
    problem = _compare(answer, homework.hw5_reference()[question_id], question)
    if problem is not None:
        raise ExerciseFailed(f"{question_id}: {problem}")
    print(f"✔ {question_id}: {question.title} — correct")


def check(exercise_id: str, answer: Any, *, hidden: bool = False) -> None:
    """Check ``answer`` to exercise ``exercise_id``; print ✔ on success, raise ``ExerciseFailed`` otherwise.

    For a function exercise (``EXERCISES``) ``answer`` is the student's function; for a homework
    question (``QUESTIONS``) it is the value asked for. With ``hidden`` a function exercise runs its hidden
    tests (``HIDDEN_CASES``) instead, and prints nothing when they pass."""
    if not isinstance(exercise_id, str):
        raise ExerciseFailed("exercise_id must be a str such as 'saliency'; got "
                             f"{type(exercise_id).__name__}")
    check_bool(hidden, "hidden")
    if hidden and exercise_id not in HIDDEN_CASES:
        raise ValueError(f"hidden: exercise {exercise_id!r} has no hidden tests; "
                         f"those with: {', '.join(HIDDEN_CASES)}")
    if exercise_id in QUESTIONS:
        return _check_question(exercise_id, answer)
    if exercise_id not in EXERCISES:
        known = ", ".join([*EXERCISES, *QUESTIONS])
        raise ExerciseFailed(f"unknown exercise {exercise_id!r}; known: {known}")
    exercise = EXERCISES[exercise_id]
    if not callable(answer):
        raise ExerciseFailed(f"{exercise_id}: pass your function itself, not {type(answer).__name__}")
    cases = HIDDEN_CASES[exercise_id]() if hidden else exercise.cases()
    kind = "hidden test" if hidden else "test"
    for number, (args, kwargs) in enumerate(cases, start=1):
        expected = exercise.reference(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
        inputs = tuple(map(_clone, args))
        try:
            got = answer(*inputs, **{k: _clone(v) for k, v in kwargs.items()})
        except NotImplementedError:
            raise ExerciseFailed(f"{exercise_id}: not implemented yet — "
                                 "replace `raise NotImplementedError()`") from None
        except Exception as error:  # the student's code failed: say how, without our traceback
            raise ExerciseFailed(f"{exercise_id}, {kind} {number}: your function raised "
                                 f"{type(error).__name__}: {error}") from None
        if exercise.measure is not None:
            expected = exercise.measure(expected, *args)
            try:
                got = exercise.measure(got, *inputs)
            except ExerciseFailed as failure:
                raise ExerciseFailed(f"{exercise_id}, {kind} {number} of {len(cases)}: {failure}") from None
        problem = _compare(got, expected, exercise)
        if problem is None and any(
            isinstance(a, torch.Tensor) and not torch.equal(a, b) for a, b in zip(inputs, args)
        ):
            problem = "your function modified its input tensor in place"
        if problem is not None and exercise.mistake is not None and isinstance(got, torch.Tensor):
            mistaken = exercise.mistake(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
            if _compare(got, mistaken, exercise) is None:
                problem = f"{problem} — {exercise.hint}"
        if problem is not None:
            raise ExerciseFailed(f"{exercise_id}, {kind} {number} of {len(cases)}: {problem}")
    if not hidden:
        print(f"✔ {exercise_id}: {exercise.title} — correct on all {len(cases)} tests")


class SubmissionRejected(ValueError):
    """A homework 6 submission breaks a rule (shape, pixel range, budget); the message says which."""

    def _render_traceback_(self) -> list[str]:
        return [f"✘ submission rejected: {self}"]


@dataclass(frozen=True)
class Judgement:
    """``judge``'s verdict: the black box's accuracy on the submission, on the clean images and on each
    baseline (a list: one figure per seed of the baseline's randomness; lower is better for the
    attacker), the pass lines, the largest change in grey levels, the queries spent and whether the box
    was the instructor's private one (the count and the budget then come from its server)."""

    accuracy: float
    clean_accuracy: float
    baselines: dict[str, list[float]]
    max_levels: int
    queries: int = 0
    private: bool = False
    budget: int = homework.HW6_QUERIES * 128

    @property
    def pass_lines(self) -> dict[str, float]:
        """Below this accuracy a baseline is beaten: its one figure (simple, medium: deterministic), or the
        lowest it reached over its seeds (strong)."""
        return {name: min(runs) for name, runs in self.baselines.items()}

    @property
    def beaten(self) -> list[str]:
        return [name for name, line in self.pass_lines.items() if self.accuracy < line]

    def __str__(self) -> str:
        def spread(runs: list[float]) -> str:
            if len(runs) == 1:
                return f"{runs[0]:.3f}"
            return f"{min(runs):.3f}–{max(runs):.3f} over {len(runs)} seeds"

        rows = {"no attack": f"{self.clean_accuracy:.3f}",
                **{f"baseline: {k}": spread(v) for k, v in self.baselines.items()},
                "your submission": f"{self.accuracy:.3f}"}
        width = max(map(len, rows))
        box = ("on the instructor's private black box" if self.private
               else "on the practice black box, the zoo's")
        lines = [f"{'':{width}}  black-box accuracy ↓  ({box})"]
        lines += [f"{name:{width}}  {value}" for name, value in rows.items()]
        verdict = ", ".join(self.beaten) if self.beaten else "none yet"
        lines.append("pass lines (below): " + ", ".join(f"{k} {v:.3f}" for k, v in self.pass_lines.items()))
        lines.append(f"largest change: {self.max_levels} of {homework.HW6_LEVELS} grey levels · "
                     f"queries spent: {self.queries} of {self.budget} · "
                     f"baselines beaten: {verdict}")
        return "\n".join(lines)


def judge(x_adv: Any, *, show: bool = True) -> Judgement:
    """Judge a homework 6 submission, as the course's server would: ``x_adv`` must be the 128 homework
    images (N×1×28×28, floating point, finite, in [0, 1]); it is rounded to 8 bits as a PNG would store
    it, then every pixel must lie within ``homework.HW6_LEVELS`` grey levels of the original.

    Judging asks the black box about the 128 images, so it spends 128 queries of the budget (a judge that
    answered for free would be an unlimited oracle); with the budget spent it refuses. The black box is the
    instructor's private one where ``$HELPERS_HW6_SERVER`` gives its server's address — the answers, the
    query count, the budget and the reference figures then come from that process — else the zoo's
    practice box; the baselines are measured on the same box. Returns (and prints, with ``show``) the
    accuracy on the submission next to the baselines' and the pass lines."""
    x, y = (t.cpu() for t in homework.hw6_images())
    if not isinstance(x_adv, torch.Tensor):
        raise SubmissionRejected(f"x_adv must be a torch.Tensor of shape {tuple(x.shape)}, "
                                 f"got {type(x_adv).__name__}")
    if tuple(x_adv.shape) != tuple(x.shape):
        raise SubmissionRejected(f"x_adv must have the homework images' shape {tuple(x.shape)}, "
                                 f"got {tuple(x_adv.shape)}")
    if not x_adv.is_floating_point():
        raise SubmissionRejected(f"x_adv must hold floating-point pixels in [0, 1], got dtype {x_adv.dtype}")
    submitted = x_adv.detach().cpu().float()
    if not torch.isfinite(submitted).all():
        raise SubmissionRejected("x_adv contains NaN or infinite pixels")
    low, high = submitted.min().item(), submitted.max().item()
    if low < 0 or high > 1:
        raise SubmissionRejected(f"pixels must lie in [0, 1]; x_adv spans [{low:.4g}, {high:.4g}] "
                                 "— clamp it")
    stored = homework.to_uint8_and_back(submitted)
    levels = (torch.round(stored * 255) - torch.round(x * 255)).abs()
    worst = int(levels.max().item())
    if worst > homework.HW6_LEVELS:
        image = int(levels.flatten(1).amax(1).argmax())
        raise SubmissionRejected(
            f"image {image} changes a pixel by {worst} grey levels after the 8-bit round trip; the budget is "
            f"{homework.HW6_LEVELS} (ε = {homework.HW6_LEVELS}/255 ≈ {homework.HW6_EPS:.4f})"
        )
    blackbox = homework.hw6_blackbox()
    try:
        accuracy = (blackbox(stored).argmax(1) == y.to(stored.device)).float().mean().item()
    except attacks.QueryBudgetExceeded as spent:
        raise SubmissionRejected(f"judging spends one query per image and the budget is spent ({spent}); "
                                 "keep 128 queries for the judge") from None
    clean, baselines = homework.hw6_figures(blackbox)  # fixed figures: they tell nothing about x_adv
    private = isinstance(blackbox, RemoteBlackBox)
    verdict = Judgement(accuracy, clean, baselines, worst, blackbox.queries, private, blackbox.budget)
    if show:
        print(verdict)
    return verdict


__all__ = ["check", "judge", "judge_points", "ExerciseFailed", "SubmissionRejected", "Judgement", "EXERCISES",
           "QUESTIONS", "HIDDEN_CASES"]


def judge_points(report: Judgement) -> float:
    """Homework 6's automatic points (nbgrader's partial credit, the last value of the hidden test cell):
    ``marking.POINTS["judge"]`` times the share of the baselines the submission beats — and nothing, with
    the reason printed, for a judgement made after more queries than the budget allows."""
    from helpers.course.marking import POINTS

    if not isinstance(report, Judgement):
        raise TypeError(f"report must be the Judgement grading.judge returns; got {type(report).__name__}")
    if report.queries > report.budget:
        print(f"✘ no points: the judgement was made after {report.queries} queries, over the budget of "
              f"{report.budget}")
        return 0.0
    return POINTS["judge"] * len(report.beaten) / len(report.baselines)
