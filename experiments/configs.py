"""Named presets: the study's experiments as data (SPEC, "The study's results").

``python -m experiments.main --preset=exp4_effnet_se_arl`` starts from a preset; any
flag given explicitly on the command line overrides it. Each preset is the set of
flag values that differ from the defaults of ``experiments.main``, which are the
study's protocol (README, "The study's protocol"): 224 px, batch 16, 4 + 20 epochs,
one-cycle 3e-3 / 3e-4, rotation ±180° and zoom up to 30 % (each p = 0.75),
oversampling, 10 seeds in the study (pass ``--num_seeds=10`` to reproduce its tables).

Checked against the thesis text (sections named per preset):
- §4.1.2 (experiment 1): ResNet-50 from ImageNet, 224 px, batch 16, rotation 180° and
  zoom 30 %, 4 + 20 epochs at 3e-3 / 3e-4; oversampling is not named there, but the
  baseline row of table 4.1 equals the baseline row of table 4.4 digit for digit
  (0.876667, 0.008462, 0.873333, 0.880000, 0.880000, 0.886667), so experiment 1's
  baseline *is* experiment 3's, which oversamples: one configuration, run once by
  `experiments.suite` (`SHARED_RUNS`).
- §4.2.2 (experiment 2): as above plus "alteraciones en la luminosidad" (lighting)
  and oversampling; its baseline (table 4.2: 0.874000) is a different run from
  experiment 3's (0.876667) because of the lighting changes.
- §4.3.2 (experiment 3): rotation and zoom, oversampling, no lighting ("a diferencia
  de los anteriores"), ARL in all 16 bottlenecks.
- §4.4.2 (experiment 4): EfficientNet-B0, rotation and zoom, oversampling.
"""

# Experiment 2 adds lighting changes (thesis §4.2.2) to the default augmentation.
_EXP2 = {"model": "resnet50", "lighting": True}
_RESNET50 = {"model": "resnet50"}

PRESETS = {
    # Experiment 1: ResNet-50 on plain images vs. lesion-masked images (§4.1.2).
    # The baseline is experiment 3's baseline (see the module docstring).
    "exp1_resnet50": _RESNET50,
    "exp1_resnet50_lesion_mask": {**_RESNET50, "preprocessing": "lesion_mask"},
    # Experiment 2: colour constancy / Ben Graham preprocessing (§4.2.2).
    "exp2_none": {**_EXP2, "preprocessing": "none"},
    "exp2_max_rgb": {**_EXP2, "preprocessing": "max_rgb"},
    "exp2_shades_of_gray": {**_EXP2, "preprocessing": "shades_of_gray"},
    "exp2_ben_graham": {**_EXP2, "preprocessing": "ben_graham"},
    # Experiment 3: ResNet-50 with and without ARL (§4.3.2).
    "exp3_resnet50": _RESNET50,
    "exp3_resnet50_arl": {**_RESNET50, "arl": True},
    # Experiment 4: EfficientNet-B0 attention variants (§4.4.2).
    "exp4_effnet_se": {"model": "effnet", "se": True},
    "exp4_effnet_none": {"model": "effnet", "se": False},
    "exp4_effnet_arl": {"model": "effnet", "se": False, "arl": True},
    "exp4_effnet_se_arl": {"model": "effnet", "se": True, "arl": True},
    # The offline demo of the README (and its slow test): ResNet-26 (ResNet-50's
    # blocks, two per stage) from random weights on the bundled synthetic lesions at
    # 64 px, 1 + 12 epochs, one-cycle at 3e-3, with the study's oversampling and
    # augmentation (docs/training.md, "Offline demo": its AUROC for seeds 0-2 and its
    # time). From random weights on 600 images ResNet-50's depth learns too slowly
    # for minutes on 2 CPU cores, and the study's 3e-4 is too timid.
    "demo": {
        "dataset": "synthetic_lesions",
        "weights": "none",
        "model": "resnet26",
        "image_size": 64,
        "head_epochs": 1,
        "epochs": 12,
        "lr": 3e-3,
    },
}

# Presets that are the same configuration as another one: `experiments.suite` trains
# them once, in the directory of the preset they point to.
SHARED_RUNS = {"exp1_resnet50": "exp3_resnet50"}


def with_metadata_encoding(values):
    """``values`` (TrainConfig fields) plus the dataset's ``metadata_encoding`` when
    ``metadata`` is on (issue 26): its sex and site vocabulary, read from the TFDS
    builder (a synthetic one is built first). Raises `ValueError` naming a field
    the dataset lacks."""
    if not values.get("metadata"):
        return values
    from skinkeras.config import TrainConfig
    from skinkeras.data import metadata_encoding

    dataset = values.get("dataset", TrainConfig.dataset)
    encoding = metadata_encoding(dataset, values.get("data_dir"))
    return {**values, "metadata_encoding": encoding}


def run_preset(name):
    """The preset whose run directory holds ``name``'s runs (itself, or a shared one)."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset; expected one of {sorted(PRESETS)}. Received: name={name!r}"
        )
    return SHARED_RUNS.get(name, name)
