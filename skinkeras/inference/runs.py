"""Loading a trained run for inference: one seed, or every seed as an ensemble.

A *run directory* is what `skinkeras.training` writes (`skinkeras.rundir`): either one
seed's directory (`model.keras` + `config.json`) or a multi-seed `MODEL_DIR` whose
`seed_<k>/` subdirectories hold one model each. `load_run` accepts both; a multi-seed
directory becomes an **ensemble** unless one `seed` is chosen.
"""

import dataclasses
import logging
import pathlib

import keras

# Registers the custom layers (ARL, SE, ...) that `keras.models.load_model` needs.
import skinkeras.models  # noqa: F401
from skinkeras import rundir
from skinkeras.config import TrainConfig
from skinkeras.metrics import CLASS_NAMES
from skinkeras.models import pipeline

# What must agree between seeds for their probabilities to be averaged.
_ENSEMBLE_KEYS = (
    "model",
    "arl",
    "se",
    "num_classes",
    "label",
    "class_names",
    "preprocessing",
    "image_size",
    "metadata",
    "metadata_encoding",
)


class ModelNotFoundError(FileNotFoundError):
    """A run directory holds no trained `model.keras`."""


@dataclasses.dataclass(frozen=True)
class Run:
    """A trained run loaded for inference: one model, or one per seed (ensemble).

    Attributes:
        model_dir: the directory given to `load_run`.
        models: the Keras models (one per seed; all built from the same config).
        seeds: the seed of each model (from `seed_<k>` or `config.json`).
        config: the run's `TrainConfig` (of the first seed; `rundir.read_config`).
        image_size: side of the square model input.
        preprocessing: the `skinkeras.data.preprocess` name used in training.
        class_names: one name per output class (`config.class_names`, else the
            fixed labels' names, where index 1 is melanoma).
    """

    model_dir: pathlib.Path
    models: tuple
    seeds: tuple
    config: TrainConfig
    image_size: int
    preprocessing: str
    class_names: tuple

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def metadata_encoding(self):
        """The vocabulary of the models' patient metadata inputs (issue 26;
        `skinkeras.config.metadata_encoding`), or None: the models see the image
        only."""
        return self.config.metadata_encoding if self.config.metadata else None

    @property
    def model(self):
        """The single model of a one-seed run (export needs exactly one)."""
        if len(self.models) != 1:
            raise ValueError(
                f"{self.model_dir} is an ensemble of seeds {list(self.seeds)}; choose "
                f"one with `seed`. Received: seed=None"
            )
        return self.models[0]


def find_models(model_dir, *, seed=None):
    """Returns `[(seed, directory)]` of the trained models under `model_dir`.

    `model_dir` is a seed directory holding `model.keras`, or a multi-seed directory
    with `seed_<k>/model.keras`; `seed` picks one of the latter.

    Raises:
        ModelNotFoundError: there is no `model.keras` where one was expected.
    """
    model_dir = pathlib.Path(model_dir)
    model_file = rundir.MODEL
    if not model_dir.is_dir():
        raise ModelNotFoundError(
            f"`model_dir` is not a directory. Received: model_dir={model_dir}"
        )
    if (model_dir / model_file).is_file():
        return [(seed, model_dir)]
    seed_dirs = rundir.seed_dirs(model_dir)
    if seed is not None:
        seed_dirs = [(k, path) for k, path in seed_dirs if k == seed]
        if not seed_dirs:
            raise ModelNotFoundError(
                f"{model_dir} has no seed_{seed}/ directory. Received: seed={seed}"
            )
    found = [(k, path) for k, path in seed_dirs if (path / model_file).is_file()]
    if not found or (seed is not None and len(found) != len(seed_dirs)):
        unfinished = [str(path) for _, path in seed_dirs]
        hint = (
            f"; {', '.join(unfinished)} hold(s) no {model_file} yet (training "
            "unfinished? `model.keras` is written at the end of a run)"
            if unfinished
            else ""
        )
        raise ModelNotFoundError(
            f"No trained model in {model_dir}: expected {model_file} there or in "
            f"seed_<k>/ subdirectories{hint}. Received: model_dir={model_dir}"
        )
    if len(found) != len(seed_dirs):
        missing = [f"seed_{k}" for k, path in seed_dirs if (k, path) not in found]
        logging.warning(
            "Ensemble without unfinished runs %s (no %s).", missing, model_file
        )
    return found


def _network(path):
    """The network of a `model.keras`: the file's model, or a pipeline's network.

    A run's `model.keras` is the pipeline around its network (issue 15, item 6;
    `skinkeras.models.pipeline`); runs written before that, and lesion-masked
    ones, hold the bare network. The `Predictor` route applies the run's
    preprocessing and calibration itself, so it takes the network either way.
    """
    model = keras.models.load_model(path, compile=False)
    if pipeline.is_pipeline(model):
        return model.get_layer(pipeline.NETWORK)
    return model


def load_run(model_dir, *, seed=None):
    """Loads the model(s) and `config.json` of a run directory for inference.

    Args:
        model_dir: a seed directory (`model.keras`, `config.json`) or a multi-seed
            directory (`seed_<k>/model.keras`; all of them are loaded as an ensemble
            unless `seed` is given).
        seed: optional seed `k` of the multi-seed directory to load alone.

    Returns:
        A `Run`, whose models are the networks (a pipeline `model.keras` is
        unwrapped: `Run.models` take the preprocessed image, as in training).
    """
    found = find_models(model_dir, seed=seed)
    configs = [rundir.read_config(path) for _, path in found]
    config = configs[0]
    for (k, _), other in zip(found[1:], configs[1:], strict=True):
        differing = [
            key for key in _ENSEMBLE_KEYS if getattr(other, key) != getattr(config, key)
        ]
        if differing:
            raise ValueError(
                f"Seeds of {model_dir} differ in {differing}: cannot ensemble them; "
                f"choose one with `seed`. Received: seed={k}"
            )
    models = tuple(_network(path / rundir.MODEL) for _, path in found)
    num_classes = int(models[0].output_shape[-1])
    # A dataset-defined label (issue 16) names its classes in config.json.
    class_names = tuple(config.class_names or ())
    if not class_names and num_classes not in CLASS_NAMES:
        raise ValueError(
            f"Expected a model with 2 (melanoma vs other) or 3 (ISIC 2017) outputs, "
            f"or config.json's class_names. Received: num_classes={num_classes}"
        )
    class_names = class_names or CLASS_NAMES[num_classes]
    if len(class_names) != num_classes:
        raise ValueError(
            f"config.json names {len(class_names)} classes but the model has "
            f"{num_classes} outputs. Received: class_names={list(class_names)}"
        )
    image = models[0].input  # with patient metadata, a dict (issue 26)
    input_size = (image["image"] if isinstance(image, dict) else image).shape[1]
    if input_size is not None and input_size != config.image_size:
        raise ValueError(
            f"config.json says image_size={config.image_size} but the model takes "
            f"{input_size} px. Received: image_size={config.image_size}"
        )
    return Run(
        model_dir=pathlib.Path(model_dir),
        models=models,
        seeds=tuple(
            cfg.seed if k is None else k
            for (k, _), cfg in zip(found, configs, strict=True)
        ),
        config=config,
        image_size=config.image_size,
        preprocessing=config.preprocessing,
        class_names=class_names,
    )
