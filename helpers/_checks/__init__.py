"""Argument checks shared by every public function, one module per concern: ``values`` (numbers, options,
generators, devices), ``tensors`` (images, waveforms, words, labels, ``check_tensor`` for any other tensor)
and ``running`` (a model run under the contract: its output checked as logits, its modes restored, the one
batch loop). The library imports them from here.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, says what was
expected and what came, so a student never has to read a deep torch traceback.
"""

from helpers._checks.running import (
    EVAL_BATCH,
    PROBABILITIES,
    batched,
    check_logits,
    check_model,
    frozen,
    misfit_named,
    model_device,
    model_dtype,
    modes_kept,
    num_classes,
    watched,
)
from helpers._checks.tensors import (
    FLOAT_DTYPES,
    check_images,
    check_labels,
    check_tensor,
    check_tokens,
    check_waveforms,
    noisy_inputs,
    shape_or_type,
)
from helpers._checks.values import (
    bool_options,
    check_bool,
    check_callable,
    check_choice,
    check_device,
    check_generator,
    check_int,
    check_number,
    check_positive,
    own_generator,
    read_sums,
)

__all__ = [
    "EVAL_BATCH", "FLOAT_DTYPES", "PROBABILITIES", "batched", "bool_options", "check_bool", "check_callable",
    "check_choice", "check_device", "check_generator", "check_images", "check_int", "check_labels",
    "check_logits", "check_model", "check_number", "check_positive", "check_tensor", "check_tokens",
    "check_waveforms", "frozen", "misfit_named", "model_device", "model_dtype", "modes_kept", "noisy_inputs",
    "num_classes", "own_generator", "read_sums", "shape_or_type", "watched",
]
