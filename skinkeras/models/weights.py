"""ImageNet weights: copied by layer name from keras.applications' models.

keras.applications downloads the official ImageNet files on first use and caches
them in `$KERAS_HOME/models` (default `~/.keras/models`). Rather than reading
those files ourselves, we build the matching keras.applications model (which
downloads/loads them) and copy every weight by layer name into the rebuilt
model. The copy checks itself: a backbone layer missing from the source, a
weight of the wrong shape, or a source weight that nothing receives raises;
what is left out on purpose (e.g. the SE weights when `se=False`) and what the
study adds (ARL alphas, the head) is reported.
"""

import dataclasses
import logging
import os

import keras

from skinkeras.layers import AttentionResidual
from skinkeras.models.heads import HEAD_PREFIX

logger = logging.getLogger(__name__)

# Our name of each keras.applications model with ImageNet weights → its constructor's
# name in keras.applications.
APPLICATIONS = {
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    **{f"efficientnet_b{k}": f"EfficientNetB{k}" for k in range(8)},
}
ARCHS = tuple(APPLICATIONS)


@dataclasses.dataclass
class TransferReport:
    """What `transfer_weights` did, layer by layer.

    Attributes:
        copied: target layers whose weights came from the source.
        new: target layers the study adds (ARL, head), left as initialised.
        left_out: source layers with weights deliberately not copied, mapped to
            the reason (e.g. "se=False").
    """

    copied: list = dataclasses.field(default_factory=list)
    new: list = dataclasses.field(default_factory=list)
    left_out: dict = dataclasses.field(default_factory=dict)

    def summary(self):
        reasons = {}
        for reason in self.left_out.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        left = ", ".join(f"{n} layers ({r})" for r, n in reasons.items()) or "nothing"
        return (
            f"copied {len(self.copied)} layers; new (as initialised): "
            f"{len(self.new)} layers; left out on purpose: {left}"
        )


def is_new_layer(layer):
    """True for the layers the study adds, which no ImageNet file holds."""
    return isinstance(layer, AttentionResidual) or layer.name.startswith(HEAD_PREFIX)


def transfer_weights(target, source, *, leave_out=None):
    """Copies weights by layer name from `source` into `target`.

    Args:
        target: the rebuilt model.
        source: a keras.applications model with the weights to copy.
        leave_out: optional function `source layer name -> reason or None`; a
            source layer with weights that `target` lacks is an error unless
            this gives a reason.

    Returns:
        A `TransferReport`.

    Raises:
        ValueError: a target backbone layer is missing in `source`, a weight
            has another shape, or a source weight has nowhere to go.
    """
    report = TransferReport()
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        if is_new_layer(layer):
            report.new.append(layer.name)
            continue
        src = source_layers.get(layer.name)
        if src is None:
            raise ValueError(
                f"Weight transfer: layer '{layer.name}' of model '{target.name}' has "
                f"no counterpart in '{source.name}'; its weights would stay random."
            )
        if len(src.weights) != len(layer.weights):
            raise ValueError(
                f"Weight transfer: layer '{layer.name}' has {len(layer.weights)} "
                f"weights but '{source.name}' has {len(src.weights)}."
            )
        for w_target, w_source in zip(layer.weights, src.weights, strict=True):
            if tuple(w_target.shape) != tuple(w_source.shape):
                raise ValueError(
                    f"Weight transfer: '{w_target.path}' has shape "
                    f"{tuple(w_target.shape)} but '{w_source.path}' has shape "
                    f"{tuple(w_source.shape)}."
                )
        layer.set_weights(src.get_weights())
        # keras.layers.Normalization caches its mean/variance as constants when
        # built or loaded from a file, not on set_weights: refresh them, or the
        # ImageNet statistics would be stored but not used.
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
        report.copied.append(layer.name)
    target_names = {layer.name for layer in target.layers}
    for name, src in source_layers.items():
        if not src.weights or name in target_names:
            continue
        reason = leave_out(name) if leave_out else None
        if reason is None:
            raise ValueError(
                f"Weight transfer: '{source.name}' layer '{name}' has weights but "
                f"model '{target.name}' has no layer of that name."
            )
        report.left_out[name] = reason
    return report


def applications_model(arch, *, weights, input_shape):
    """keras.applications' model `arch` (e.g. ResNet101 for "resnet101") without
    top, with `weights`.

    `weights="imagenet"` downloads (or reuses from the Keras cache) the
    official file. A path is loaded into the model built with `weights=None`;
    if the file is a with-top file, the model is built with its top.
    """
    if arch not in ARCHS:
        raise ValueError(f"`arch` must be one of {ARCHS}. Received: arch={arch!r}")
    constructor = getattr(keras.applications, APPLICATIONS[arch])
    if weights == "imagenet":
        source = constructor(
            weights="imagenet", include_top=False, input_shape=input_shape
        )
        return _canonical_stem_names(source)
    path = os.fspath(weights)
    source = constructor(weights=None, include_top=False, input_shape=input_shape)
    try:
        source.load_weights(path)
    except Exception as no_top_error:  # retried with the top, then re-raised
        try:
            source = constructor(weights=None, include_top=True)
            source.load_weights(path)
        except Exception:
            raise ValueError(
                f"The weights file does not fit keras.applications' {arch} (tried "
                f"without and with top): {no_top_error}  Received: weights={weights!r}"
            ) from no_top_error
    return _canonical_stem_names(source)


def _canonical_stem_names(source):
    """Gives keras.applications' unnamed EfficientNet stem layers the names a
    fresh Keras session gives them ("rescaling", "normalization", "rescaling_1"),
    which the rebuilt model uses. Otherwise a second keras.applications build
    in one process names them "normalization_1" etc. and the ImageNet
    normalisation statistics would not be found by name. Called after the
    weights are loaded (loading does not go by these names).
    """
    counts = {}
    canonical = {
        keras.layers.Rescaling: "rescaling",
        keras.layers.Normalization: "normalization",
    }
    for layer in source.layers:
        base = canonical.get(type(layer))
        if base is None:
            continue
        n = counts.get(base, 0)
        counts[base] = n + 1
        layer.name = base if n == 0 else f"{base}_{n}"
    return source


def load_backbone_weights(model, *, arch, weights, leave_out=None):
    """Fills `model`'s backbone from keras.applications' `arch` with `weights`.

    Args:
        model: a model built by `skinkeras.models`.
        arch: a key of `APPLICATIONS`, e.g. "resnet101" or "efficientnet_b3".
        weights: "imagenet" or a path to a weights file (legacy `.h5` such as
            the official files, or Keras 3 `.weights.h5`).
        leave_out: see `transfer_weights`; the classifier `predictions` of a
            with-top file is always left out.

    Returns:
        The `TransferReport` (also logged at INFO level).
    """
    input_shape = tuple(model.input_shape[1:])
    source = applications_model(arch, weights=weights, input_shape=input_shape)

    def reason(name):
        if name == "predictions":
            return "ImageNet classifier, replaced by the new head"
        return leave_out(name) if leave_out else None

    report = transfer_weights(model, source, leave_out=reason)
    logger.info("%s: weights %r: %s", model.name, weights, report.summary())
    return report
