"""The zoo's model card, ``MODELS.md``: a table of the models with their measured figures (read from zoo.json,
written by ``python -m helpers.zoo evaluate --write``) and one sentence per recipe."""

from __future__ import annotations

from helpers import zoo
from helpers.attacks.evaluate import ROBUST_SETTING
from helpers.models import count_parameters
from helpers.zoo.evaluation import FILTER_SETTING, ROBUST_IMAGES, TRANSFER_SETTING
from helpers.zoo.recipes import RECIPES, Recipe


def model_card() -> str:
    """The zoo's model card (the text of ``MODELS.md`` beside the checkpoints)."""
    info = zoo._read_info()
    lines = [
        "# Model zoo",
        "",
        "Every figure below was written by `python -m helpers.zoo evaluate --write`, which loads each",
        "checkpoint and measures it; `tests/test_zoo.py` re-measures them and fails if this file is stale.",
        "Reproduce a checkpoint with `python -m helpers.zoo train NAME`: on the CPU of the same machine,",
        "torch version and thread count (the table's last column) the weights come out bit for bit",
        "identical (checked for `shapes_cnn`); another thread count sums in another order and gives",
        "equally good, not identical, weights.",
        "",
        *_table(info),
        "",
        "## Recipes",
        "",
    ]
    for name, recipe in RECIPES.items():
        lines.append(f"- **`{name}`** — {recipe.summary} {recipe.describe()}.")
    lines += [
        "",
        "Training times were measured by `python -m helpers.zoo train` on the machine named in the",
        "table (the course's reference machine: 2 CPU cores, no GPU), while other work shared its cores —",
        "read them as upper bounds.",
        "",
        *IMPORTED,
    ]
    return "\n".join(lines)


IMPORTED = [  # models the course did not train: where they come from (no recipe, no zoo.load)
    "## Imported: the MTCNN face detector",
    "",
    "`mtcnn/pnet.pt`, `mtcnn/rnet.pt`, `mtcnn/onet.pt` are the three networks of MTCNN (Zhang, Zhang, Li",
    "and Qiao, \"Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks\", IEEE",
    "Signal Processing Letters 2016), trained by the paper's authors on WIDER FACE (faces) and CelebA",
    "(landmarks). They are copied unchanged from the wheel of facenet-pytorch 2.6.0 (MIT licence, © 2019",
    "Timothy Esler), which converted the original weights to PyTorch; `mtcnn/NOTICE` holds the licence,",
    "`mtcnn/SHA256SUMS` their sums. `helpers.faces` rebuilds the networks and the cascade;",
    "`tests/test_faces.py` checks that it finds what facenet-pytorch's own `MTCNN(keep_all=True).detect`",
    "finds in scikit-image's photos (`scripts/make_mtcnn_reference.py`).",
    "",
]


def _table(info: dict[str, dict]) -> list[str]:
    """One row per model: architecture, size, test split, clean accuracy, training time, notes."""
    rows = [
        "| model | architecture | parameters | test split | clean accuracy | training time | notes |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for name, recipe in RECIPES.items():
        metrics = info.get(name, {}).get("metrics", {})
        training = info.get(name, {}).get("training", {})
        accuracy = metrics.get("clean_accuracy")
        cells = [
            f"`{name}`",
            f"`{recipe.build.__name__}()`",
            f"{count_parameters(recipe.build()):,}",
            recipe.data.test_about,
            f"{100 * accuracy:.2f} %" if accuracy is not None else "not measured",
            f"{training['seconds']:.0f} s on {training['device']}" if training else "—",
            _notes(recipe, metrics),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _notes(recipe: Recipe, metrics: dict[str, float]) -> str:
    """The table's notes on a model: the figures besides clean accuracy, with how they were measured."""
    notes = []
    if recipe.guards is not None:
        notes.append(f"clean accuracy is `{recipe.guards}`'s through the filter")
        if "unaware_accuracy" in metrics:
            f = FILTER_SETTING
            notes.append(
                f"through the filter, {100 * metrics['unaware_accuracy']:.1f} % of L∞ PGD-{f['steps']} "
                f"examples (ε = {f['eps']}) made against `{recipe.guards}` alone are classified right, "
                f"{100 * metrics['adaptive_accuracy']:.1f} % of those made against the composition "
                f"(first {f['images']:,} test images)"
            )
    if recipe.transfer_to is not None and "transfer_rate" in metrics:
        t = TRANSFER_SETTING
        notes.append(
            f"its PGD examples (ε = {t['eps']}, {t['steps']} steps) fool `{recipe.transfer_to}` on "
            f"{100 * metrics['transfer_rate']:.1f} % of the first {t['images']:,} test images"
        )
    if recipe.robust_eps is not None and "robust_accuracy" in metrics:
        r = ROBUST_SETTING
        notes.append(
            f"robust accuracy {100 * metrics['robust_accuracy']:.1f} % at ε = {recipe.robust_eps} (L∞, worst "
            f"case per image over APGD-CE and APGD-DLR, {r['apgd_steps']} steps each, and PGD-{r['steps']} "
            f"with {r['restarts']} restarts, margin loss; first {ROBUST_IMAGES:,} test images)"
        )
    if "moved_accuracy" in metrics:
        notes.append(
            f"(b) without tags {100 * metrics['untagged_accuracy']:.2f} %, (c) tags moved to the other "
            f"classes {100 * metrics['moved_accuracy']:.2f} %; {100 * metrics['tag_saliency_mass']:.1f} % of "
            f"its saliency on the tag (16 pixels, 2 % of the image) of the 900 tagged test shirts"
        )
    return "; ".join(notes)
