"""TrainConfig: JSON round trip, contract keys, validation."""

import json

import pytest

from skinkeras import config as config_lib
from skinkeras.config import runnable
from skinkeras.training import TrainConfig

CONTRACT_KEYS = """model arl se head num_classes label preprocessing masks_dir mask_mode
dataset data_dir image_size batch_size head_epochs head_lr epochs lr oversample augment
lighting flip warp weights seed seeds model_dir strategy tpu mixed_precision jit_compile
deterministic train_bn weight_decay beta_2 epsilon""".split()


def test_defaults_are_the_study_protocol():
    config = TrainConfig()
    # Thesis §4.1.2-4.4.2: 224 px, batch 16, 4 epochs at 3e-3 then 20 at 3e-4,
    # rotation and zoom augmentation, oversampling; no lighting outside experiment 2.
    assert (config.image_size, config.batch_size) == (224, 16)
    assert (config.head_epochs, config.head_lr, config.epochs, config.lr) == (
        4,
        3e-3,
        20,
        3e-4,
    )
    assert config.augment and config.oversample
    assert not (config.lighting or config.flip or config.warp)
    # fastai v1.0.61: Learner(wd=1e-2, bn_wd=True, train_bn=True),
    # AdamW = partial(torch.optim.Adam, betas=(0.9, 0.99)) with torch's eps=1e-8.
    assert (config.weight_decay, config.beta_2, config.epsilon) == (0.01, 0.99, 1e-8)
    assert config.train_bn and not config.deterministic
    # Issue 16's imbalance corrections are off: the study oversamples instead.
    assert (config.loss, config.class_weight) == ("cross_entropy", "none")
    assert (config.label, config.num_classes, config.class_names) == (
        "melanoma",
        2,
        None,
    )


def test_json_round_trip_has_contract_keys_and_tolerates_extra_keys():
    config = TrainConfig(model="resnet50", arl=True, seeds=[0, 1], model_dir="x")
    data = json.loads(config.to_json())
    assert set(CONTRACT_KEYS) <= set(data)
    assert TrainConfig.from_json(config.to_json()) == config
    data["written_by_a_newer_version"] = 1
    assert TrainConfig.from_dict(data) == config


INVALID = [
    ({"model": "vgg"}, "model"),
    ({"model": "resnet50", "se": True}, "se=True"),
    ({"head_epochs": -1}, "head_epochs=-1"),
    ({"epochs": -2}, "epochs=-2"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"lr": 0.0}, "lr=0.0"),
    ({"strategy": "horovod"}, "strategy"),
    ({"label": "melanoma", "num_classes": 3}, "num_classes=3"),
    ({"seed": -1}, "seed=-1"),
    ({"seed": 2**31}, "seed=2147483648"),
    ({"seed": 1.5}, "seed=1.5"),
    ({"augment": False, "lighting": True}, "lighting=True, augment=False"),
    ({"augment": False, "flip": True}, "flip=True, augment=False"),
    # Issue 14: degenerate runs refused before training, naming the field.
    ({"head_epochs": 0, "epochs": 0}, "Received: head_epochs=0, epochs=0"),
    ({"head_lr": float("inf")}, "finite.*Received: head_lr=inf"),
    ({"lr": float("nan")}, "finite.*Received: lr=nan"),
    ({"lr": -1e-3}, "lr=-0.001"),
    ({"weight_decay": float("nan")}, "Received: weight_decay=nan"),
    ({"epsilon": float("inf")}, "Received: epsilon=inf"),
    ({"beta_2": float("nan")}, "Received: beta_2=nan"),
    ({"seeds": [0, -1]}, r"Received: seeds=\[0, -1\]"),
    ({"seeds": [2**31]}, r"Received: seeds=\[2147483648\]"),
    ({"loss": "hinge"}, "loss='hinge'"),
    ({"class_weight": "auto"}, "class_weight='auto'"),
    ({"loss": "focal", "focal_gamma": -1.0}, "focal_gamma=-1.0"),
    ({"focal_gamma": 1.0}, "focal_gamma=1.0"),  # without loss="focal"
    ({"label": "diagnosis", "num_classes": 3}, "class_names=None"),
    # ResNet-26 has no ImageNet weights (keras.applications has none).
    ({"model": "resnet26"}, "--weights=none.*Received: weights='imagenet'"),
    ({"model": "resnet26", "weights": "w.h5"}, "Received: weights='w.h5'"),
    ({"model": "resnet26", "weights": "none", "se": True}, "resnet26 has no Squeeze"),
    (
        {"label": "diagnosis", "num_classes": 3, "class_names": ["a", "b"]},
        r"class_names=\['a', 'b'\]",
    ),
]


def test_invalid_values_are_rejected_with_the_value():
    for kwargs, match in INVALID:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**kwargs)


def test_one_stage_alone_is_a_run():
    assert TrainConfig(head_epochs=0, epochs=1).epochs == 1
    assert TrainConfig(head_epochs=1, epochs=0).head_epochs == 1


def test_segment_config_refuses_non_finite_learning_rates():
    from skinkeras.segmentation.config import SegmentConfig

    with pytest.raises(ValueError, match="Received: lr=inf"):
        SegmentConfig(lr=float("inf"))
    with pytest.raises(ValueError, match="Received: encoder_lr_factor=nan"):
        SegmentConfig(encoder_lr_factor=float("nan"))


def test_image_size_below_the_backbones_minimum_is_refused():
    for model in config_lib.MODELS:
        weights = "none" if model in config_lib.RANDOM_ONLY_MODELS else "imagenet"
        config = TrainConfig(model=model, image_size=31, se=None, weights=weights)
        with pytest.raises(ValueError, match=f"model='{model}'") as error:
            runnable.check_runnable(config)
        assert str(error.value).endswith("Received: image_size=31")
        runnable.check_runnable(config.replace(image_size=32))


def test_minimum_image_size_is_the_models_own():
    """The real builders refuse one pixel less than `MIN_IMAGE_SIZE`.

    That they build and run at it (ARL on and off, both heads) is
    tests/models/test_build_model.py's (its SMALL shape); measured for issue 14:
    every combination builds at 32 and 33 and is refused at 1 ... 31.
    """
    from skinkeras.models import build_model, common

    for model in config_lib.MODELS:
        size = runnable.MIN_IMAGE_SIZE[model]
        assert size == common.MIN_SIZE
        with pytest.raises(ValueError, match="input_shape"):
            build_model(
                model, weights=None, arl=True, input_shape=(size - 1,) * 2 + (3,)
            )


def test_masks_dir_must_hold_masks_for_each_split(tmp_path):
    def check(masks_dir):
        runnable.check_masks_files(preprocessing="lesion_mask", masks_dir=masks_dir)

    missing = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=f"Received: masks_dir='{missing}'"):
        check(missing)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "ISIC_0000000.png").write_bytes(b"")
    with pytest.raises(ValueError, match="no PNG masks in .*validation"):
        check(str(tmp_path))
    (tmp_path / "validation").mkdir()
    with pytest.raises(ValueError, match="no PNG masks in .*validation"):
        check(str(tmp_path))
    (tmp_path / "validation" / "ISIC_0000001.png").write_bytes(b"")
    check(str(tmp_path))
    # Other preprocessing, or a dataset with its own masks (no masks_dir): no check.
    runnable.check_masks_files(preprocessing="none", masks_dir=None)
    runnable.check_masks_files(preprocessing="lesion_mask", masks_dir=None)


def test_run_name():
    assert TrainConfig(model="effnet", arl=True).run_name == "effnet_se_arl_none"
    assert TrainConfig(model="effnet", se=False).run_name == "effnet_none"
    assert TrainConfig(model="resnet50", preprocessing="ben_graham").run_name == (
        "resnet50_ben_graham"
    )


@pytest.mark.parametrize(
    "items, seeds",
    [
        (["0-9"], list(range(10))),
        (["3", "0-1", "7"], [3, 0, 1, 7]),
        ([5, 6], [5, 6]),
        (["4-4"], [4]),
    ],
)
def test_seeds_take_integers_and_inclusive_ranges(items, seeds):
    from skinkeras.config import parse_seeds

    assert parse_seeds(items) == seeds


@pytest.mark.parametrize(
    "items, message",
    [
        (["3-1"], "ranges a-b"),
        (["x"], "ranges a-b"),
        (["1-"], "ranges a-b"),
        (["-1"], "integers in"),
        (["0-2", "2"], "must not repeat"),
        ([True], "ranges a-b"),
    ],
)
def test_bad_seeds_are_refused_naming_the_value(items, message):
    from skinkeras.config import parse_seeds

    with pytest.raises(ValueError, match=message) as error:
        parse_seeds(items)
    assert f"Received: seeds={items!r}" in str(error.value)
