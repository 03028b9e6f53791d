"""experiments.common_flags: each choice list, default and rule has one source.

The configs (TensorFlow-free, for a fast `--help`) keep copies of the names the
TensorFlow modules implement; these tests prove the copies equal the library's lists,
and that every command's flags take their choices, defaults and checks from the
configs.
"""

import dataclasses

import pytest
from absl import flags

from experiments import common_flags, main, segment, suite
from skinkeras import config as train_config
from skinkeras.segmentation import config as segment_config


def test_config_choice_lists_equal_the_library_lists():
    from skinkeras import models
    from skinkeras.data import ops, pipeline, preprocessing
    from skinkeras.models import heads
    from skinkeras.training import distribute

    assert train_config.MODELS == models.MODELS
    assert train_config.HEADS == heads.HEADS
    assert train_config.NUM_CLASSES == pipeline.LABELS
    # Dataset-defined labels (issue 16) take their classes from the dataset.
    assert train_config.LABELS == (*pipeline.LABELS, *train_config.DATASET_LABELS)
    # One list of names: the registry of example ops (issue 13).
    assert train_config.PREPROCESSING == ops.names()
    assert set(preprocessing.PREPROCESSING_NAMES) < set(ops.names())
    assert train_config.MASKED_PREPROCESSING == tuple(
        name for name in ops.names() if "mask" in ops.spec(name).needs
    )
    assert train_config.MASK_MODES == preprocessing.MASK_MODES
    assert distribute.STRATEGIES is train_config.STRATEGIES  # imported, not copied


def _flags_of(flag_values):
    return {name: flag_values[name] for name in flag_values}


@pytest.mark.parametrize("command", [main, suite])
def test_training_flags_take_choices_and_defaults_from_train_config(command):
    defaults = train_config.TrainConfig()
    fields = {field.name for field in dataclasses.fields(train_config.TrainConfig)}
    command_flags = _flags_of(command.FLAGS)
    shared = fields & set(command_flags) - {"model_dir"}  # a CLI's own default
    assert len(shared) >= 15
    for name in shared:
        assert command_flags[name].default == getattr(defaults, name), name
        if name in train_config.CHOICES:
            enum_values = command_flags[name].parser.enum_values
            assert enum_values == list(train_config.CHOICES[name]), name


def test_suite_and_main_share_help_texts():
    for name in suite.PASS_THROUGH + suite.MASK_FLAGS:
        assert suite.FLAGS[name].help == main.FLAGS[name].help
        assert suite.FLAGS[name].help.endswith(common_flags.TRAIN_HELP[name])


def test_segment_flags_take_choices_and_defaults_from_segment_config():
    for field in dataclasses.fields(segment_config.SegmentConfig):
        flag = segment.FLAGS[field.name]
        assert flag.default == field.default, field.name
    assert segment.FLAGS["encoder"].parser.enum_values == sorted(
        segment_config.ENCODER_NAMES
    )
    assert segment.FLAGS["loss"].parser.enum_values == sorted(segment_config.LOSS_NAMES)


def _parse_error(flag_values, argv):
    flag_values.unparse_flags()
    try:
        with pytest.raises(flags.Error) as error:
            flag_values(["command", *argv])
    finally:
        flag_values.unparse_flags()
    return str(error.value)


@pytest.mark.parametrize(
    "argv, config",
    [
        (["--model=resnet50", "--se"], {"model": "resnet50", "se": True}),
        (["--noaugment", "--flip"], {"augment": False, "flip": True}),
        (["--head_epochs=-1"], {"head_epochs": -1}),
        (["--beta_2=1"], {"beta_2": 1.0}),
        (["--seed=-1"], {"seed": -1}),
    ],
)
def test_flag_errors_are_the_configs_errors(argv, config):
    with pytest.raises(ValueError) as from_config:
        train_config.TrainConfig(**config)
    assert str(from_config.value) in _parse_error(flags.FLAGS, argv)


def test_segment_flag_errors_are_the_configs_errors():
    message = _parse_error(segment.FLAGS, ["--epochs=-1"])
    assert "flag --epochs=-1: `epochs` must be >= 0. Received: epochs=-1" in message
    assert "Received: lr=0.0" in _parse_error(segment.FLAGS, ["--lr=0"])


def test_suite_checks_its_flags_as_the_config_does():
    assert "Received: seed=-1" in _parse_error(suite.FLAGS, ["--seed=-1"])
    assert "Received: lr=0.0" in _parse_error(suite.FLAGS, ["--lr=0"])


@pytest.mark.parametrize("name", train_config.MODELS)
def test_every_model_is_a_value_of_the_model_flag(name):
    weights = "none" if name in train_config.RANDOM_ONLY_MODELS else "imagenet"
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS(["experiments.main", f"--model={name}", f"--weights={weights}"])
        config = main.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()
    assert (config.model, config.weights) == (name, weights)
    assert config.model_dir.startswith(f"runs/{name}_")  # the run's default name
