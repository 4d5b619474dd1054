"""Checks for the notebooks' exercises: a clear pass, or what was expected and what came.

    from helpers.course import grading
    grading.check("saliency", my_saliency)        # an exercise whose answer is a function
    grading.check("hw5_most_faithful", answer)    # a homework question whose answer is a value
    grading.judge(x_adv)                          # homework 6: a submission against the baselines

A function exercise runs the student's function on a few small inputs and compares it with the
library's reference (shape, dtype, values within a tolerance). A homework question compares the
student's value with the answer key in ``helpers.course.homework`` — without printing the key. A failure
raises ``ExerciseFailed`` (``judge``: ``SubmissionRejected``), which a notebook shows as one line —
never a traceback from the checker. The messages follow the notebook's language (``language``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from helpers import attacks
from helpers._checks import check_bool
from helpers.course import homework
from helpers.course.exercises import EXERCISES, QUESTIONS, Exercise, Question
from helpers.course.hw6_client import RemoteBlackBox
from helpers.course.language import _, width
from helpers.course.marking import POINTS


class ExerciseFailed(AssertionError):
    """An exercise's answer is not yet right; the message says what differs."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [_("✘ {message}", message=self)]


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, torch.Generator):
        return torch.Generator().set_state(value.get_state())
    return value


def _compare(got: Any, expected: Any, spec: Exercise | Question, where: str = "") -> str | None:
    """None when ``got`` matches ``expected``, else what differs: with the expected value for an exercise
    (a reference function's result), never with the key's value for a homework ``Question``."""
    at = _(" at {where}", where=where) if where else ""
    if isinstance(expected, dict):
        return _compare_dicts(got, expected, spec)
    if isinstance(expected, str):
        return _compare_names(got, expected, spec, at)
    if isinstance(expected, float):
        return _compare_numbers(got, expected, spec, at)
    return _compare_tensors(got, expected, spec, at)


def _beyond_tolerance(what: str, spec: Exercise | Question) -> str:
    """What a homework question's check says of a wrong value: that it is off, never by how much."""
    return _("{what} from the reference by more than the tolerance (rtol={rtol:g}, atol={atol:g}) — check "
             "the prescribed settings", what=what, rtol=spec.rtol, atol=spec.atol)


def _compare_dicts(got: Any, expected: dict, spec: Exercise | Question) -> str | None:
    if not isinstance(got, dict):
        return _("expected a dict with keys {keys}, got {got}", keys=sorted(expected), got=type(got).__name__)
    if set(got) != set(expected):
        return _("the dict's keys differ: missing {missing}, unexpected {extra}",
                 missing=sorted(set(expected) - set(got)), extra=sorted(set(got) - set(expected)))
    problems = (_compare(got[key], expected[key], spec, repr(key)) for key in expected)
    return next((problem for problem in problems if problem is not None), None)


def _compare_names(got: Any, expected: str, spec: Exercise | Question, at: str) -> str | None:
    if not isinstance(got, str):
        return _("expected a name (str){at}, got {type}", at=at, type=type(got).__name__)
    if isinstance(spec, Question) and spec.choices and got not in spec.choices:
        return _("{got!r} is not one of {choices}", got=got, choices=list(spec.choices))
    return None if got == expected else _("{got!r} is not the answer — look at your measurements again",
                                          got=got)


def _compare_numbers(got: Any, expected: float, spec: Exercise | Question, at: str) -> str | None:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return _("expected a number{at}, got {type}", at=at, type=type(got).__name__)
    if abs(got - expected) <= spec.atol + spec.rtol * abs(expected):
        return None
    if isinstance(spec, Exercise):
        return _("expected {expected:.6g}, got {got:.6g}", expected=expected, got=got)
    return _beyond_tolerance(_("{got:.6g}{at} differs", got=got, at=at), spec)


def _compare_tensors(got: Any, expected: torch.Tensor, spec: Exercise | Question, at: str) -> str | None:
    reveal = isinstance(spec, Exercise)
    if not isinstance(got, torch.Tensor):
        return _("expected a torch.Tensor{at}, got {type}", at=at, type=type(got).__name__)
    if got.shape != expected.shape:
        return _("expected shape {expected}{at}, got {got}", expected=tuple(expected.shape), at=at,
                 got=tuple(got.shape))
    if got.dtype != expected.dtype:
        return _("expected dtype {expected}{at}, got {got}", expected=expected.dtype, at=at, got=got.dtype)
    if reveal and got.requires_grad:
        return _("the result still requires grad: return it .detach()-ed")
    if reveal and not torch.isfinite(got).all():
        return _("the result contains NaN or infinite values")
    got = got.detach().cpu()
    if torch.allclose(got, expected, rtol=spec.rtol, atol=spec.atol):
        return None
    if not reveal:
        return _beyond_tolerance(_("the values{at} differ", at=at), spec)
    worst = (got - expected).abs().flatten().argmax()
    return _("values differ (tolerance rtol={rtol:g}, atol={atol:g}): at flat index {index} expected "
             "{expected:.6g}, got {got:.6g}", rtol=spec.rtol, atol=spec.atol, index=int(worst),
             expected=float(expected.flatten()[worst]), got=float(got.flatten()[worst]))


def _check_question(question_id: str, answer: Any) -> None:
    question = QUESTIONS[question_id]
    if callable(answer) and not isinstance(answer, torch.Tensor):
        raise ExerciseFailed(_("{id}: this question wants a value, not a function — call it and pass the "
                               "result", id=question_id))
    problem = _compare(answer, homework.hw5_reference()[question_id], question)
    if problem is not None:
        raise ExerciseFailed(_("{id}: {problem}", id=question_id, problem=problem))
    print(_("✔ {id}: {title} — correct", id=question_id, title=_(question.title)))


def _copies(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Fresh copies of a test's arguments (tensors cloned, generators at the same state), so that neither
    the reference nor the student's function sees what the other did to them."""
    return tuple(map(_clone, args)), {k: _clone(v) for k, v in kwargs.items()}


def _problem(exercise_id: str, exercise: Exercise, answer: Callable, args: tuple, kwargs: dict,
             test: str) -> str | None:
    """What is wrong with ``answer`` on one test of the exercise (None: nothing). Raises ``ExerciseFailed``
    where the student's function itself raised; ``test`` names the test ("hidden test 2")."""
    reference_args, reference_kwargs = _copies(args, kwargs)
    expected = exercise.reference(*reference_args, **reference_kwargs)
    inputs, options = _copies(args, kwargs)
    try:
        got = answer(*inputs, **options)
    except NotImplementedError:
        raise ExerciseFailed(_("{id}: not implemented yet — replace `raise NotImplementedError()`",
                               id=exercise_id)) from None
    except Exception as error:  # the student's code failed: say how, without our traceback
        raise ExerciseFailed(_("{id}, {test}: your function raised {error_type}: {error}", id=exercise_id,
                               test=test, error_type=type(error).__name__, error=error)) from None
    if exercise.measure is not None:
        expected = exercise.measure(expected, *args)
        try:
            got = exercise.measure(got, *inputs)
        except (TypeError, ValueError) as failure:  # the measure's word on what is wrong
            return str(failure)
    problem = _compare(got, expected, exercise)
    if problem is None and any(
        isinstance(a, torch.Tensor) and not torch.equal(a, b) for a, b in zip(inputs, args)
    ):
        problem = _("your function modified its input tensor in place")
    if problem is not None and exercise.mistake is not None and isinstance(got, torch.Tensor):
        mistake_args, mistake_kwargs = _copies(args, kwargs)
        if _compare(got, exercise.mistake(*mistake_args, **mistake_kwargs), exercise) is None:
            problem = _("{problem} — {hint}", problem=problem, hint=_(exercise.hint))
    return problem


def check(exercise_id: str, answer: Any, *, hidden: bool = False) -> None:
    """Check ``answer`` to exercise ``exercise_id``; print ✔ on success, raise ``ExerciseFailed`` otherwise.

    For a function exercise (``exercises.EXERCISES``) ``answer`` is the student's function; for a homework
    question (``exercises.QUESTIONS``) it is the value asked for. With ``hidden`` a function exercise runs its
    hidden tests (its entry's ``hidden`` cases) instead, and prints nothing when they pass."""
    if not isinstance(exercise_id, str):
        raise ExerciseFailed(_("exercise_id must be a str such as 'saliency'; got {type}",
                               type=type(exercise_id).__name__))
    check_bool(hidden, "hidden")
    if hidden and exercise_id not in EXERCISES:
        raise ValueError(f"hidden: exercise {exercise_id!r} has no hidden tests; "
                         f"those with: {', '.join(EXERCISES)}")
    if exercise_id in QUESTIONS:
        return _check_question(exercise_id, answer)
    if exercise_id not in EXERCISES:
        known = ", ".join([*EXERCISES, *QUESTIONS])
        raise ExerciseFailed(_("unknown exercise {id!r}; known: {known}", id=exercise_id, known=known))
    exercise = EXERCISES[exercise_id]
    if not callable(answer):
        raise ExerciseFailed(_("{id}: pass your function itself, not {type}", id=exercise_id,
                               type=type(answer).__name__))
    cases = exercise.hidden() if hidden else exercise.cases()
    for number, (args, kwargs) in enumerate(cases, start=1):
        test = _("hidden test {k}", k=number) if hidden else _("test {k}", k=number)
        problem = _problem(exercise_id, exercise, answer, args, kwargs, test)
        if problem is not None:
            raise ExerciseFailed(_("{id}, {test} of {n}: {problem}", id=exercise_id, test=test, n=len(cases),
                                   problem=problem))
    if not hidden:
        print(_("✔ {id}: {title} — correct on all {n} tests", id=exercise_id, title=_(exercise.title),
                n=len(cases)))


class SubmissionRejected(ValueError):
    """A homework 6 submission breaks a rule (shape, pixel range, budget); the message says which."""

    def _render_traceback_(self) -> list[str]:
        return [_("✘ submission rejected: {reason}", reason=self)]


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
            return (f"{runs[0]:.3f}" if len(runs) == 1 else
                    _("{low:.3f}–{high:.3f} over {n} seeds", low=min(runs), high=max(runs), n=len(runs)))

        rows = {_("no attack"): f"{self.clean_accuracy:.3f}",
                **{_("baseline: {name}", name=k): spread(v) for k, v in self.baselines.items()},
                _("your submission"): f"{self.accuracy:.3f}"}
        columns = max(map(width, rows))
        box = (_("on the instructor's private black box") if self.private
               else _("on the practice black box, the zoo's"))
        lines = [" " * columns + _("  black-box accuracy ↓  ({box})", box=box)]
        lines += [name + " " * (columns - width(name)) + f"  {value}" for name, value in rows.items()]
        lines.append(_("pass lines (below): {lines}", lines=", ".join(f"{k} {v:.3f}"
                                                                      for k, v in self.pass_lines.items())))
        lines.append(_("largest change: {levels} of {budget_levels} grey levels · queries spent: {queries} "
                       "of {budget} · baselines beaten: {beaten}", levels=self.max_levels,
                       budget_levels=homework.HW6_LEVELS, queries=self.queries, budget=self.budget,
                       beaten=", ".join(self.beaten) if self.beaten else _("none yet")))
        return "\n".join(lines)


def judge(x_adv: Any, *, show: bool = True) -> Judgement:
    """Judge a homework 6 submission, as the course's server would: ``x_adv`` must be the 128 homework
    images (N×1×28×28, floating point, finite, in [0, 1]); rounded to 8 bits as a PNG would store it, every
    pixel must lie within ``homework.HW6_LEVELS`` grey levels of the original. Judging spends 128 queries of
    the budget (a judge that answered for free would be an unlimited oracle); with the budget spent it
    refuses. The black box is the instructor's private one where ``$HELPERS_HW6_SERVER`` gives its server's
    address (the answers, the query count, the budget and the reference figures then come from that
    process), else the zoo's practice box; the baselines are measured on the same box. Returns (and prints,
    with ``show``) the accuracy on the submission next to the baselines' and the pass lines."""
    x, y = (t.cpu() for t in homework.hw6_images())
    if not isinstance(x_adv, torch.Tensor):
        raise SubmissionRejected(_("x_adv must be a torch.Tensor of shape {shape}, got {type}",
                                   shape=tuple(x.shape), type=type(x_adv).__name__))
    if tuple(x_adv.shape) != tuple(x.shape):
        raise SubmissionRejected(_("x_adv must have the homework images' shape {shape}, got {got}",
                                   shape=tuple(x.shape), got=tuple(x_adv.shape)))
    if not x_adv.is_floating_point():
        raise SubmissionRejected(_("x_adv must hold floating-point pixels in [0, 1], got dtype {dtype}",
                                   dtype=x_adv.dtype))
    submitted = x_adv.detach().cpu().float()
    if not torch.isfinite(submitted).all():
        raise SubmissionRejected(_("x_adv contains NaN or infinite pixels"))
    low, high = submitted.min().item(), submitted.max().item()
    if low < 0 or high > 1:
        raise SubmissionRejected(_("pixels must lie in [0, 1]; x_adv spans [{low:.4g}, {high:.4g}] "
                                   "— clamp it", low=low, high=high))
    stored = homework.to_uint8_and_back(submitted)
    levels = (torch.round(stored * 255) - torch.round(x * 255)).abs()
    worst = int(levels.max().item())
    if worst > homework.HW6_LEVELS:
        raise SubmissionRejected(_("image {image} changes a pixel by {worst} grey levels after the 8-bit "
                                   "round trip; the budget is {levels} (ε = {levels}/255 ≈ {eps:.4f})",
                                   image=int(levels.flatten(1).amax(1).argmax()), worst=worst,
                                   levels=homework.HW6_LEVELS, eps=homework.HW6_EPS))
    blackbox = homework.hw6_blackbox()
    try:
        accuracy = (blackbox(stored).argmax(1) == y.to(stored.device)).float().mean().item()
    except attacks.QueryBudgetExceeded as spent:
        raise SubmissionRejected(_("judging spends one query per image and the budget is spent ({spent}); "
                                   "keep 128 queries for the judge", spent=spent)) from None
    clean, baselines = homework.hw6_figures(blackbox)  # fixed figures: they tell nothing about x_adv
    private = isinstance(blackbox, RemoteBlackBox)
    verdict = Judgement(accuracy, clean, baselines, worst, blackbox.queries, private, blackbox.budget)
    if show:
        print(verdict)
    return verdict


__all__ = ["check", "judge", "judge_points", "ExerciseFailed", "SubmissionRejected", "Judgement"]


def judge_points(report: Judgement) -> float:
    """Homework 6's automatic points (nbgrader's partial credit, the last value of the hidden test cell):
    ``marking.POINTS["judge"]`` times the share of the baselines the submission beats — and nothing, with
    the reason printed, for a judgement made after more queries than the budget allows."""
    if not isinstance(report, Judgement):
        raise TypeError(f"report must be the Judgement grading.judge returns; got {type(report).__name__}")
    if report.queries > report.budget:
        print(_("✘ no points: the judgement was made after {queries} queries, over the budget of {budget}",
                queries=report.queries, budget=report.budget))
        return 0.0
    return POINTS["judge"] * len(report.beaten) / len(report.baselines)
