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
# Changing anything drawn changes the data: bump VERSION and this salt together.
_SEED_SALT = 20171

_LABELS = ["nevus", "melanoma", "seborrheic_keratosis"]
_SEXES = ["female", "male", "unknown"]


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
    age = int(rng.choice(np.arange(10, 90, 5))) if rng.uniform() < 0.9 else -1
    return {
        "image": image,
        "mask": mask[..., None],
        "image_id": f"SYN_{_SPLIT_CODES[split]}{index:06d}",
        "label": int(label),
        "melanoma": int(label == lesions.MELANOMA),
        "age_approximate": age,
        "sex": _SEXES[int(rng.integers(len(_SEXES)))],
    }


class Builder(tfds.core.GeneratorBasedBuilder):
    """Procedurally drawn lesion images with masks, in the `isic2017` schema."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                _LABELS,
                label="label",
                image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3),
                mask=tfds.features.Image(
                    shape=(IMAGE_SIZE, IMAGE_SIZE, 1), encoding_format="png"
                ),
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
