"""synthetic_lesions: drawn dermoscopy-like images in the isic2017 schema, no download."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import classification
from tfds_isic.synthetic_lesions import lesions

IMAGE_SIZE = 128
# Examples per split, and the class shares of ISIC 2017's training set
# (374 melanoma and 254 seborrheic keratosis of 2000 images).
SPLIT_SIZES = {"train": 600, "validation": 150, "test": 150}
MELANOMA_SHARE = 374 / 2000
SEBORRHEIC_KERATOSIS_SHARE = 254 / 2000
_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
# Changing how an image or a label is drawn changes the data: bump VERSION and this
# salt together. The patient metadata (1.1.0) comes from a stream of its own
# (`_METADATA_STREAM`), so the images and labels stayed those of 1.0.0.
_SEED_SALT = 20171
_METADATA_STREAM = 1

_LABELS = ["nevus", "melanoma", "seborrheic_keratosis"]
# The ClassLabel names of the ISIC builders' `sex` and of ISIC 2019's
# `anatom_site_general`, "unknown" last (`tfds_isic.classification`).
SEXES = classification.SEXES
SITES = classification.ISIC2019_SITES
# Label-dependent patient metadata (1.1.0), so that a model that reads it can beat
# one that sees the image only (issue 26). Per class (nevus, melanoma, seborrheic
# keratosis): age ~ Normal(mean, sd) in years, clipped to 5..85 and rounded to 5 as
# ISIC's `age_approx`; P(male); the site's weights over `SITES[:-1]`. Deliberately
# far stronger than any real dataset, and not shaped after one (real keratoses are
# the oldest): melanoma patients are an age group of their own, mostly male, with
# lesions on the back and legs, so that the metadata alone ranks the validation
# split's melanomas perfectly (a Bayes posterior over these tables: AUROC 1.0 on
# validation, 0.99995 on train, 0.998 on test) and the gain a metadata run shows is
# the metadata branch at work, not chance. These are made up, not measured.
AGE = {0: (30.0, 8.0), 1: (75.0, 4.0), 2: (40.0, 6.0)}
MALE_SHARE = {0: 0.35, 1: 0.85, 2: 0.35}
SITE_WEIGHTS = {
    0: [0.40, 0.05, 0.05, 0.10, 0.02, 0.03, 0.02, 0.33],
    1: [0.02, 0.02, 0.02, 0.25, 0.01, 0.01, 0.65, 0.02],
    2: [0.35, 0.50, 0.03, 0.03, 0.02, 0.01, 0.02, 0.04],
}
# Each field is unknown (-1 / "unknown") with this probability, independently.
MISSING_SHARE = 0.05


def split_labels(split, num_examples):
    """Deterministic labels of one split with ISIC 2017's class ratio.

    Returns an int array of class indices into `_LABELS`, exactly
    `round(num_examples * share)` melanoma and seborrheic keratosis, in an order
    shuffled by a seed derived from the split name.
    """
    num_melanoma = round(num_examples * MELANOMA_SHARE)
    num_keratosis = round(num_examples * SEBORRHEIC_KERATOSIS_SHARE)
    labels = np.zeros(num_examples, np.int64)
    labels[:num_melanoma] = lesions.MELANOMA
    labels[num_melanoma : num_melanoma + num_keratosis] = lesions.SEBORRHEIC_KERATOSIS
    rng = np.random.default_rng([_SEED_SALT, _SPLIT_CODES[split]])
    return rng.permutation(labels)


def draw_example(split, index, label, size=IMAGE_SIZE):
    """One example dict (numpy image and mask), depending only on its arguments."""
    rng = np.random.default_rng([_SEED_SALT, _SPLIT_CODES[split], index])
    image, mask = lesions.draw_lesion(rng, int(label), size)
    return {
        "image": image,
        "mask": mask[..., None],
        "image_id": f"SYN_{_SPLIT_CODES[split]}{index:06d}",
        "label": int(label),
        "melanoma": int(label == lesions.MELANOMA),
        **draw_metadata(split, index, label),
    }


def draw_metadata(split, index, label):
    """Age, sex and anatomic site of one example, drawn as `AGE`, `MALE_SHARE` and
    `SITE_WEIGHTS` say for its label, from a generator of their own (the image's
    stays untouched)."""
    rng = np.random.default_rng(
        [_SEED_SALT, _SPLIT_CODES[split], index, _METADATA_STREAM]
    )
    label = int(label)
    mean, sd = AGE[label]
    age = int(5 * round(np.clip(rng.normal(mean, sd), 5, 85) / 5))
    sex = SEXES[int(rng.uniform() < MALE_SHARE[label])]
    weights = np.array(SITE_WEIGHTS[label])
    site = SITES[int(rng.choice(len(weights), p=weights / weights.sum()))]
    missing = rng.uniform(size=3) < MISSING_SHARE
    return {
        "age_approximate": -1 if missing[0] else age,
        "sex": "unknown" if missing[1] else sex,
        "anatom_site_general": "unknown" if missing[2] else site,
    }


class Builder(tfds.core.GeneratorBasedBuilder):
    """Procedurally drawn lesion images with masks, in the `isic2017` schema."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Patient metadata drawn per label (issue 26): `age_approximate`, "
        "`sex` and the new `anatom_site_general`, sex and site as ClassLabels; the "
        "images, masks and labels are those of 1.0.0.",
    }

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                _LABELS,
                label="label",
                image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
                mask=tfds.features.Image(
                    shape=(IMAGE_SIZE, IMAGE_SIZE, 1), encoding_format="png"
                ),
                anatom_site_general=tfds.features.ClassLabel(names=SITES),
            ),
            supervised_keys=("image", "melanoma"),
            homepage="https://github.com/skinkeras/skinkeras",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        return {
            split: self._generate_examples(split=split, num_examples=num_examples)
            for split, num_examples in SPLIT_SIZES.items()
        }

    def _generate_examples(self, split, num_examples):
        for index, label in enumerate(split_labels(split, num_examples)):
            example = draw_example(split, index, label)
            yield example["image_id"], example
