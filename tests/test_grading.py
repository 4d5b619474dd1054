import pytest
import torch

from helpers import explain, grading


def test_reference_answers_pass(capsys):
    grading.check("saliency", lambda m, x, t: explain.saliency(m, x, t))
    grading.check("lrp_epsilon_step", explain.epsilon_step)
    assert "✔ saliency" in capsys.readouterr().out


def test_smoothgrad_answer_written_as_the_exercise_says_passes():
    def my_smoothgrad(model, x, target, *, n, noise_level, generator):
        sigma = noise_level * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
        noise = torch.randn((n, *x.shape), generator=generator) * sigma.view(1, -1, 1, 1, 1)
        total = torch.zeros_like(x)
        for k in range(n):
            total += _grad(model, x + noise[k], target)  # one noisy copy at a time, as a student might
        return total / n

    def _grad(model, x, target):
        x = x.clone().requires_grad_(True)
        target = torch.full((len(x),), target) if isinstance(target, int) else target
        model(x).gather(1, target[:, None]).sum().backward()
        return x.grad.detach()

    grading.check("smoothgrad", my_smoothgrad)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda m, x, t: explain.saliency(m, x, t).sum(1), r"expected shape \(3, 1, 10, 10\), got \(3, 10, 10\)"),
        (lambda m, x, t: explain.saliency(m, x, t, abs=False), "values differ"),
        (lambda m, x, t: explain.saliency(m, x, t).double(), "expected dtype torch.float32, got torch.float64"),
        (lambda m, x, t: 1 / 0, "your function raised ZeroDivisionError"),
        (lambda m, x, t: x.mul_(0), "values differ|modified its input"),
    ],
)
def test_wrong_answers_say_what_is_wrong(answer, message):
    with pytest.raises(grading.ExerciseFailed, match=message):
        grading.check("saliency", answer)


def test_unfinished_and_unknown():
    def todo(*args, **kwargs):
        raise NotImplementedError()

    with pytest.raises(grading.ExerciseFailed, match="not implemented yet"):
        grading.check("saliency", todo)
    with pytest.raises(grading.ExerciseFailed, match="unknown exercise 'deepdream'; known: saliency"):
        grading.check("deepdream", todo)
    assert grading.ExerciseFailed("x")._render_traceback_() == ["✘ x"]


def test_grad_cam_and_pointing_game_exercises():
    def my_cam(activation, gradient):
        return torch.relu((gradient.mean((2, 3), keepdim=True) * activation).sum(1, keepdim=True))

    def my_pointing(maps, masks):
        peak = maps.sum(1).flatten(1).argmax(1)
        return masks.flatten(1)[torch.arange(len(peak)), peak].float().mean().item()

    grading.check("grad_cam", my_cam)
    grading.check("pointing_game", my_pointing)
    with pytest.raises(grading.ExerciseFailed, match=r"expected [0-9.]+, got 0"):
        grading.check("pointing_game", lambda maps, masks: 0.0)
    with pytest.raises(grading.ExerciseFailed, match="expected a number, got str"):
        grading.check("pointing_game", lambda maps, masks: "half")


def test_attack_exercises():
    import torch.nn.functional as F

    def my_fgsm(model, x, y, *, eps):
        x = x.clone().requires_grad_(True)
        F.cross_entropy(model(x), y).backward()
        return (x + eps * x.grad.sign()).clamp(0, 1).detach()

    def my_ifgsm(model, x, y, *, eps, alpha, steps):
        x_adv = x.clone()
        for _ in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            F.cross_entropy(model(x_adv), y).backward()
            x_adv = x_adv + alpha * x_adv.grad.sign()
            x_adv = (x + (x_adv - x).clamp(-eps, eps)).clamp(0, 1)
        return x_adv.detach()

    grading.check("fgsm", my_fgsm)
    grading.check("ifgsm", my_ifgsm)
    with pytest.raises(grading.ExerciseFailed, match="values differ"):
        grading.check("ifgsm", lambda model, x, y, *, eps, alpha, steps: my_ifgsm(model, x, y, eps=2 * eps, alpha=alpha,
                                                                                  steps=steps))
