"""TrainConfig: JSON round trip, contract keys, validation."""

import json

import pytest

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
    ({"loss": "hinge"}, "loss='hinge'"),
    ({"class_weight": "auto"}, "class_weight='auto'"),
    ({"loss": "focal", "focal_gamma": -1.0}, "focal_gamma=-1.0"),
    ({"focal_gamma": 1.0}, "focal_gamma=1.0"),  # without loss="focal"
    ({"label": "diagnosis", "num_classes": 3}, "class_names=None"),
    (
        {"label": "diagnosis", "num_classes": 3, "class_names": ["a", "b"]},
        r"class_names=\['a', 'b'\]",
    ),
]


def test_invalid_values_are_rejected_with_the_value():
    for kwargs, match in INVALID:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**kwargs)


def test_run_name():
    assert TrainConfig(model="effnet", arl=True).run_name == "effnet_se_arl_none"
    assert TrainConfig(model="effnet", se=False).run_name == "effnet_none"
    assert TrainConfig(model="resnet50", preprocessing="ben_graham").run_name == (
        "resnet50_ben_graham"
    )
