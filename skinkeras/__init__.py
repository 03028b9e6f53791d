"""skinkeras: preprocessing and attention (ARL, SE) for melanoma classification.

Subpackages:
    skinkeras.layers    Keras layers (ARL, spatial softmax, Squeeze & Excitation).
    skinkeras.models    ResNet-50 / EfficientNet-B0 with ARL and SE, U-Net, heads.
    skinkeras.data      tf.data preprocessing maps and the training pipeline.
    skinkeras.training  one-cycle schedule, callbacks, run(config), result tables.
    skinkeras.inference load a run, predict, CSVs, export (SavedModel, TFLite).
    skinkeras.segmentation  the U-Net lesion segmenter.
    skinkeras.gradcam   Grad-CAM heatmaps and overlays.
    skinkeras.metrics   classification metrics (AUROC, sensitivity, ...).
    skinkeras.evaluation  clinical evaluation: AUROC intervals, operating points,
                        calibration, temperature scaling, DeLong's test.
    skinkeras.rundir    a run directory's files; atomic writes; its config.
    skinkeras.imagefiles  image sizes from file headers; limits checked before decoding.
    skinkeras.model_card  MODEL_CARD.md of a run (use, data, metrics, limits).

A trained model in two lines (a self-contained pipeline: resize, preprocessing,
network, calibrated softmax, decision; `skinkeras.models.pipeline`, loaded from a
run by `skinkeras.inference.pipeline`)::

    model = skinkeras.load_model("runs/effnet_se_arl/export/model.keras")  # or a run
    predictions = skinkeras.predict_files(model, ["lesion.jpg", "folder/"])

Subpackages (and these functions) are imported on first use, so that
`import skinkeras` (and every `experiments` command's `--help`) does not import
TensorFlow.
"""

import importlib
import sys

from skinkeras import _import_hook

__version__ = "0.1.0"

_SUBMODULES = (
    "data",
    "evaluation",
    "gradcam",
    "imagefiles",
    "inference",
    "layers",
    "metrics",
    "model_card",
    "models",
    "rundir",
    "segmentation",
    "training",
)

# Functions of the top level, each from the module that defines it.
_FUNCTIONS = {
    "load_model": "skinkeras.inference.pipeline",
    "predict_files": "skinkeras.inference.pipeline",
}

__all__ = ["__version__", *_SUBMODULES, *_FUNCTIONS]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_layers():
    # Importing the layers runs their `register_keras_serializable` decorators.
    importlib.import_module(f"{__name__}.layers")


def _import_keras_then_register_layers(exec_keras, keras_module):
    exec_keras(keras_module)
    _register_layers()


# `keras.models.load_model` finds a class of another package only in Keras'
# registry: keras.src.saving.serialization_lib `_retrieve_class_or_fn` looks up the
# config's `registered_name` ("skinkeras>AttentionResidual") there, and imports a
# config's `module` only for keras, keras_hub, keras_cv and keras_nlp. The layers
# register themselves when imported, and importing them imports Keras (and
# TensorFlow: seconds), so a bare `import skinkeras` registers them as soon as Keras
# is imported anyway: a saved skinkeras model then loads after `import skinkeras`,
# whichever of skinkeras and Keras comes first.
if "keras" in sys.modules:
    _register_layers()
else:
    _import_hook.wrap_import("keras", _import_keras_then_register_layers)
