"""isic2019: ISIC 2019 challenge data, 8 diagnoses, splits grouped by lesion, and
the official test set (`challenge_test`, its published ground truth)."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import archives, classification, sources

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2019/"
# The official files of each part are `ISIC_2019_<part>_Input.zip` (its images
# under `ISIC_2019_<part>_Input/`), `..._GroundTruth.csv` and `..._Metadata.csv`.
# The test set (issue 16): 8,238 images whose ground truth the ISIC challenge site
# publishes with the scorer's weights (README.md: sources).
_PARTS = ("Training", "Test")
# The one-hot columns of the ground-truth CSV, in the official order; UNK ("none
# of the others") has no training image but is a class of the challenge.
DIAGNOSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
# The metadata columns read; the test metadata has no lesion id.
_METADATA_COLUMNS = {
    "Training": ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"],
    "Test": ["image", "age_approx", "anatom_site_general", "sex"],
}
# Column of the test ground truth that the official scorer (isic-challenge-scoring,
# `parse_truth_csv`) weighs each image's score by; 1.0 when the file has none.
_SCORE_WEIGHT = "score_weight"
# The official test set, kept whole: not part of the grouped train / validation /
# test made from the training data.
CHALLENGE_TEST = "challenge_test"


def _name(part, what):
    """The official name of a part's `what` ("Input", "GroundTruth.csv", ...)."""
    return f"ISIC_2019_{part}_{what}"


# No MD5 or size of the 2019 files is published: TFDS' own download checks apply.
FILES = [
    sources.RemoteFile(name, _BASE_URL + name)
    for part in _PARTS
    for name in (
        _name(part, "Input.zip"),
        _name(part, "GroundTruth.csv"),
        _name(part, "Metadata.csv"),
    )
]


class Builder(classification.GroupedBuilder):
    """ISIC 2019: dermoscopic images, 8 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Split `challenge_test`: the official test images with their "
        "published ground truth; feature `score_weight`.",
        "1.2.0": "`sex` and `anatom_site_general` are ClassLabels (the official "
        "values, then unknown), for --metadata (issue 26); a value outside them "
        "is stored as unknown and logged.",
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES, download_size="the image zip is about 9 GB, the test zip 3.6 GB"
    )
    FILES = FILES
    # Images of the MSK source are named `ISIC_<id>_downsampled.jpg` in the zip and
    # in the CSVs; LICENSE.txt and ATTRIBUTION.txt match nothing.
    IMAGE_PATTERN = r"(ISIC_\d+(?:_downsampled)?)\.jpg"

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                anatom_site_general=tfds.features.ClassLabel(
                    names=classification.ISIC2019_SITES
                ),
                lesion_id=tfds.features.Text(),
                # The official scorer's weight of a `challenge_test` image (0 for
                # images it leaves out); 1.0 in the splits made from training data.
                score_weight=tfds.features.Scalar(dtype=np.float32),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://challenge.isic-archive.com/landing/2019/",
        )

    def _read_training(self, paths, dl_manager, values):
        del dl_manager  # every file is an official download
        part, metadata = _read_part(paths, "Training", values)
        return part, {i: row["lesion_id"].strip() for i, row in metadata.items()}

    def _read_official(self, paths, training, values):
        del training  # unused
        part, _ = _read_part(paths, "Test", values)
        return {CHALLENGE_TEST: part}


def _read_part(paths, part, values):
    """`(Part, metadata rows)` of the `part` ("Training", "Test") files, checked;
    sex and site read by `values` (`classification.MetadataValues`).

    Raises `archives.IntegrityError` naming the file and ids of a label row without
    metadata row or vice versa (and those of `read_one_hot` / `read_weights`).
    """
    truth, metadata_name = _name(part, "GroundTruth.csv"), _name(part, "Metadata.csv")
    data = paths[truth].read_bytes()
    labels = classification.read_one_hot(data, name=truth, columns=DIAGNOSES)
    metadata = archives.rows_by_id(
        archives.read_csv(
            paths[metadata_name].read_bytes(),
            name=metadata_name,
            columns=_METADATA_COLUMNS[part],
        ),
        name=metadata_name,
        key="image",
    )
    archives.check_same_ids(
        labels, metadata, images_name=truth, labels_name=metadata_name
    )
    # {} for the training ground truth, which has no weights: all weigh 1.
    weights = classification.read_weights(data, name=truth, column=_SCORE_WEIGHT)
    examples = {
        i: _features(label, metadata[i], weights.get(i, 1.0), values)
        for i, label in labels.items()
    }
    images = classification.Part(
        _name(part, "Input.zip"), examples, examples_name=truth
    )
    return images, metadata


def _features(label, row, weight, values):
    """An example's features from its label, metadata row and score weight."""
    return {
        "diagnosis": label,
        "melanoma": int(label == "MEL"),
        "age_approximate": classification.age(row["age_approx"]),
        "sex": values.sex(row["sex"]),
        "anatom_site_general": values.name(
            row["anatom_site_general"],
            classification.ISIC2019_SITES,
            column="anatom_site_general",
        ),
        # Empty when the metadata has none (the image is then its own group in
        # the splits; the test metadata has no lesion ids).
        "lesion_id": (row.get("lesion_id") or "").strip(),
        "score_weight": weight,
    }
