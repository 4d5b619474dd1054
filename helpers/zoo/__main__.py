"""The zoo's command line: ``python -m helpers.zoo list | train | evaluate`` (see ``helpers.zoo``)."""

from __future__ import annotations

import argparse
import sys

from helpers import zoo
from helpers.zoo.card import model_card
from helpers.zoo.evaluation import evaluate
from helpers.zoo.retraining import retrain


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.zoo", description=zoo.__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the model card")
    p_train = sub.add_parser("train", help="reproduce a checkpoint from its recipe")
    p_train.add_argument("name", choices=[*zoo.names(), "all"], help="a model's name, or all")
    p_train.add_argument("--device", default=None)
    p_train.add_argument("--seed", type=int, default=None, help="another seed than the recipe's")
    p_train.add_argument("--out", default=None, help="write the checkpoint to this file, not to the zoo "
                         "(e.g. a private homework 6 black box: train fmnist_blackbox --seed S --out PATH)")
    p_eval = sub.add_parser("evaluate", help="measure every model's accuracy")
    p_eval.add_argument("--write", action="store_true", help="record the figures in MODELS.md")
    p_eval.add_argument("--device", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        print(model_card())
    elif args.command == "train" and (args.seed is not None or args.out is not None):
        if args.name == "all" or args.out is None:
            parser.error("--out trains one model into a file: train NAME [--seed S] --out PATH")
        retrain(args.name, device=args.device, seed=args.seed, out=args.out)
        print(f"wrote {args.out} ({args.name}, seed {args.seed}); the zoo is unchanged")
    elif args.command == "train":
        for name in zoo.names() if args.name == "all" else [args.name]:
            retrain(name, device=args.device)
            print(f"wrote {zoo.checkpoint_path(name)}")
        print("run `python -m helpers.zoo evaluate --write` next to measure the models and update MODELS.md")
    else:
        _evaluate_all(device=args.device, write=args.write)
    return 0


def _evaluate_all(*, device: str | None, write: bool) -> None:
    """Measure every model and print its figures; with ``write``, record them in zoo.json and MODELS.md."""
    info = zoo._read_info()
    for name in zoo.names():
        metrics = evaluate(name, device=device)
        info.setdefault(name, {})["metrics"] = metrics
        figures = "  ".join(f"{key} {100 * value:.2f} %" for key, value in metrics.items())
        print(f"{name:20s} {figures}", flush=True)
    if write:
        zoo._write_info(info)
        (zoo.MODELS_DIR / "MODELS.md").write_text(model_card())
        print(f"wrote {zoo.MODELS_DIR / 'MODELS.md'}")


if __name__ == "__main__":
    sys.exit(main())
