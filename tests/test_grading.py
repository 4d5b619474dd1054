import pytest
import torch

from helpers import explain
from helpers.course import grading
from helpers.course.exercises import QUESTIONS


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
        (
            lambda m, x, t: explain.saliency(m, x, t).sum(1),
            r"expected shape \(3, 1, 10, 10\), got \(3, 10, 10\)",
        ),
        (lambda m, x, t: explain.saliency(m, x, t, abs=False), "values differ"),
        (
            lambda m, x, t: explain.saliency(m, x, t).double(),
            "expected dtype torch.float32, got torch.float64",
        ),
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
        grading.check("ifgsm", lambda model, x, y, *, eps, alpha, steps: my_ifgsm(model, x, y, eps=2 * eps,
                                                                                  alpha=alpha, steps=steps))


# ---- homework questions (value answers checked against helpers.course.homework's key) -------------------

def test_homework_questions_accept_the_key_and_never_reveal_it(capsys):
    from helpers.course import homework

    key = homework.hw5_reference()
    for question in QUESTIONS:
        grading.check(question, key[question])
    assert capsys.readouterr().out.count("✔") == len(QUESTIONS)

    wrong = next(m for m in homework.HW5_METHODS if m != key["hw5_most_faithful"])
    with pytest.raises(grading.ExerciseFailed, match="is not the answer") as failure:
        grading.check("hw5_most_faithful", wrong)
    assert key["hw5_most_faithful"] not in str(failure.value)
    with pytest.raises(grading.ExerciseFailed, match="is not one of"):
        grading.check("hw5_most_faithful", "occlusion")
    with pytest.raises(grading.ExerciseFailed, match=r"missing \['Grad-CAM'"):
        grading.check("hw5_deletion", {k: v for k, v in key["hw5_deletion"].items() if k != "Grad-CAM"})
    off = {**key["hw5_deletion"], "LRP ε-γ-box": key["hw5_deletion"]["LRP ε-γ-box"] + 0.01}
    differs = "at 'LRP ε-γ-box' differs from the reference"
    with pytest.raises(grading.ExerciseFailed, match=differs) as failure:
        grading.check("hw5_deletion", off)
    assert f"{key['hw5_deletion']['LRP ε-γ-box']:.4g}" not in str(failure.value)
    maps = dict(key["hw5_explanations"])
    maps["SmoothGrad"] = maps["SmoothGrad"] * 1.01  # e.g. another seed or noise level
    with pytest.raises(grading.ExerciseFailed, match="at 'SmoothGrad' differ .* prescribed settings"):
        grading.check("hw5_explanations", maps)
    with pytest.raises(grading.ExerciseFailed, match="wants a value, not a function"):
        grading.check("hw5_pointing", lambda: None)
    with pytest.raises(grading.ExerciseFailed, match="expected a dict"):
        grading.check("hw5_pointing", 0.5)


# ---- homework 6's judge ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hw6():
    from helpers.course import homework

    return homework.hw6_images()


def test_judge_accepts_a_valid_submission_after_the_uint8_round_trip(hw6, capsys):
    from helpers.course import homework

    x, _ = hw6
    verdict = grading.judge(x.clone())
    assert verdict.accuracy == verdict.clean_accuracy and verdict.max_levels == 0 and verdict.beaten == []
    assert "baseline: strong" in capsys.readouterr().out
    # 12.4 grey levels round to 12: inside the budget; the stored image is what gets classified
    inside = (x + 12.4 / 255).clamp(0, 1)
    assert grading.judge(inside, show=False).max_levels == homework.HW6_LEVELS
    # a submission is judged, not changed
    before = inside.clone()
    grading.judge(inside, show=False)
    assert torch.equal(inside, before)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda x: (x + 12.6 / 255).clamp(0, 1),
            r"changes a pixel by 13 grey levels after the 8-bit round trip; the budget is 12",
        ),
        (lambda x: x + 0.5, r"pixels must lie in \[0, 1\]"),
        (lambda x: x - 0.01, r"pixels must lie in \[0, 1\]"),
        (lambda x: x[:10], r"shape \(128, 1, 28, 28\), got \(10, 1, 28, 28\)"),
        (lambda x: x[:, :, :14], r"got \(128, 1, 14, 28\)"),
        (lambda x: (x * 255).to(torch.uint8), "floating-point pixels"),
        (lambda x: x.numpy(), "must be a torch.Tensor"),
        (lambda x: torch.where(x > 0.5, float("nan"), x), "NaN"),
    ],
)
def test_judge_rejects_broken_submissions_clearly(hw6, make, message):
    x, _ = hw6
    with pytest.raises(grading.SubmissionRejected, match=message):
        grading.judge(make(x), show=False)


def test_judge_baselines_are_reproducible_and_ordered():
    from helpers.course import homework

    first = dict(homework.hw6_baselines())
    again = homework.hw6_baselines(None, homework.HW6_BASELINE_SEEDS[:1])  # not cached: computed anew
    assert again == {"simple": first["simple"], "medium": first["medium"], "strong": first["strong"][:1]}
    assert [len(first[k]) for k in ("simple", "medium", "strong")] == [1, 1, len(homework.HW6_BASELINE_SEEDS)]
    verdict = grading.judge(homework.hw6_images()[0], show=False)
    lines = verdict.pass_lines
    strong = lines["strong"]
    assert verdict.clean_accuracy > lines["simple"] > lines["medium"] > max(first["strong"]) >= strong
    assert lines["strong"] == min(first["strong"])  # the line sits below every seed of the baseline
    assert homework.hw6_pass_lines() == lines
    # the practice row of the recorded table (scripts/hw6_private_boxes.py) is what the code computes now
    clean, simple, medium, (low, high), _ = homework.HW6_MEASURED["practice (the zoo's)"]
    strong_now = min(first["strong"]), max(first["strong"])
    now = (verdict.clean_accuracy, *first["simple"], *first["medium"], *strong_now)
    assert (clean, simple, medium, low, high) == pytest.approx(now, abs=6e-4)


def test_hw6_budget_is_per_session_and_cannot_be_reset():
    from helpers.course import homework

    data = homework.hw6_data()
    before = data.blackbox.queries
    data.blackbox(data.x[:3])
    again = homework.hw6_data()  # re-running the setup cell gives the same counter, not a fresh one
    assert again.blackbox is data.blackbox and again.blackbox.queries == before + 3
    for name, value in (("queries", 0), ("budget", None)):
        with pytest.raises(AttributeError):
            setattr(again.blackbox, name, value)
    homework._hw6_practice_box.cache_clear()  # a new box object keeps counting the same queries
    rebuilt = homework.hw6_data().blackbox
    assert rebuilt is not data.blackbox and rebuilt.queries == before + 3
    grading.judge(data.x.cpu(), show=False)  # the judge is not a free oracle: one query per image
    assert data.blackbox.queries == rebuilt.queries == before + 3 + 128


def test_a_judgement_over_the_budget_earns_nothing(capsys):
    import dataclasses

    from helpers.course import homework

    budget = homework.HW6_QUERIES * 128
    report = grading.Judgement(accuracy=0.1, clean_accuracy=0.9, baselines={"simple": [0.8], "strong": [0.5]},
                               max_levels=12, queries=budget, budget=budget)
    assert grading.judge_points(report) == 6.0
    assert grading.judge_points(dataclasses.replace(report, queries=budget + 1)) == 0.0
    assert "no points: the judgement was made after 38401 queries, over the budget of 38400" in (
        capsys.readouterr().out)
    with pytest.raises(TypeError, match="report must be the Judgement"):
        grading.judge_points({"accuracy": 0.0})


def test_zoo_trains_a_private_copy_without_touching_the_zoo(tmp_path, monkeypatch):
    from helpers import models, zoo
    from helpers.zoo import recipes, retraining
    from helpers.zoo.__main__ import main

    seeds = []
    monkeypatch.setattr(retraining, "seed_everything",
                        lambda seed: seeds.append(seed) or torch.Generator().manual_seed(seed))
    monkeypatch.setattr(recipes, "train", lambda model, *args, **kwargs: None)  # the training, skipped
    sums = zoo._sums_file().read_bytes()
    out = tmp_path / "box.pt"
    assert main(["train", "fmnist_blackbox", "--seed", "7", "--out", str(out)]) == 0
    assert seeds == [7] and zoo._sums_file().read_bytes() == sums
    models.fashion_blackbox().load_state_dict(torch.load(out, weights_only=True))
    with pytest.raises(SystemExit):
        main(["train", "all", "--seed", "7", "--out", str(out)])


def test_speech_and_text_exercises():
    from helpers.audio import db

    grading.check("relative_db",
                  lambda d, x: 20 * torch.log10(d.abs().amax(1)) - 20 * torch.log10(x.abs().amax(1)))
    grading.check("flip_gain", lambda g, t: g - torch.take_along_dim(g, t[..., None], dim=2))
    with pytest.raises(grading.ExerciseFailed, match="values differ"):
        grading.check("relative_db", lambda d, x: db(d) - db(x) + 6.0)
    with pytest.raises(grading.ExerciseFailed, match="expected shape"):
        grading.check("flip_gain", lambda g, t: g.sum(2))
    with pytest.raises(grading.ExerciseFailed, match="values differ"):
        grading.check("flip_gain", lambda g, t: g - g.mean(2, keepdim=True))


def test_clever_hans_exercises():
    """Notebook 04b: the tag's relevance mass and the right-for-the-right-reasons penalty."""
    import torch.nn.functional as F

    def my_tag_mass(maps, masks):
        h = maps.sum(1).abs()
        return ((h * masks[:, 0]).sum((1, 2)) / h.sum((1, 2)).clamp_min(1e-30)).mean().item()

    def my_rrr_penalty(model, x, mask, *, create_graph=True):
        x = x.clone().requires_grad_(True)
        log_p = F.log_softmax(model(x), dim=1)
        (grad,) = torch.autograd.grad(log_p.sum(), x, create_graph=create_graph)
        return (mask * grad).pow(2).sum((1, 2, 3)).mean()

    grading.check("tag_mass", my_tag_mass)
    grading.check("rrr_penalty", my_rrr_penalty)
    with pytest.raises(grading.ExerciseFailed, match="expected [0-9.]+, got"):
        grading.check("tag_mass",
                      lambda maps, masks: (maps.sum(1) * masks[:, 0]).sum().item() / maps.sum().item())
    with pytest.raises(grading.ExerciseFailed, match="create_graph=True"):
        grading.check("rrr_penalty",
                      lambda m, x, mask: my_rrr_penalty(m, x, mask, create_graph=False).detach())
    # summed over images instead of averaged
    with pytest.raises(grading.ExerciseFailed, match="values differ"):
        grading.check("rrr_penalty", lambda m, x, mask: my_rrr_penalty(m, x, mask) * len(x))
    with pytest.raises(grading.ExerciseFailed, match="expected a scalar tensor"):
        grading.check("rrr_penalty", lambda m, x, mask: 0.5)


def test_exercise_checks_catch_the_tempting_mistakes():
    """03's ε step with torch.sign (sign(0) = 0, the spec says +1), 04b's tag mass of Σ_c |h| instead of
    |Σ_c h|, and 02's SmoothGrad with the noisy copies clamped to [0, 1] (named in the message)."""
    def sign_step(a, weight, bias, relevance, epsilon=1e-6):
        z = a @ weight.T + bias
        return a * ((relevance / (z + epsilon * torch.sign(z))) @ weight)

    def channel_abs_mass(maps, masks):
        h = maps.abs().sum(1)
        return ((h * masks[:, 0]).sum((1, 2)) / h.sum((1, 2)).clamp_min(1e-30)).mean().item()

    def clipped_smoothgrad(model, x, target, *, n, noise_level, generator):
        sigma = noise_level * (x.amax(dim=(1, 2, 3)) - x.amin(dim=(1, 2, 3)))
        noise = torch.randn((n, *x.shape), generator=generator) * sigma.view(1, -1, 1, 1, 1)
        noisy = (x + noise).clamp(0, 1).flatten(0, 1).requires_grad_(True)
        target = torch.full((len(x),), target) if isinstance(target, int) else target
        (grad,) = torch.autograd.grad(model(noisy).gather(1, target.repeat(n)[:, None]).sum(), noisy)
        return grad.view(n, *x.shape).mean(0)

    with pytest.raises(grading.ExerciseFailed, match="test 3 of 3: the result contains NaN"):
        grading.check("lrp_epsilon_step", sign_step)
    with pytest.raises(grading.ExerciseFailed, match="test 3 of 3: expected"):
        grading.check("tag_mass", channel_abs_mass)
    with pytest.raises(grading.ExerciseFailed, match="clipped to \\[0, 1\\]: keep them as drawn"):
        grading.check("smoothgrad", clipped_smoothgrad)
    with pytest.raises(grading.ExerciseFailed, match="values differ \\(tolerance[^—]*$"):  # no hint otherwise
        grading.check("smoothgrad", lambda m, x, t, **kw: clipped_smoothgrad(m, x, t, **kw) * 2)
