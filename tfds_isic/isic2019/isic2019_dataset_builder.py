"""isic2019: ISIC 2019 challenge data, 8 diagnoses, splits grouped by lesion, and
the official test set (`challenge_test`, its published ground truth)."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import archives, classification, sources, splits

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2019/"
_INPUT = "ISIC_2019_Training_Input"
_GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
_METADATA = "ISIC_2019_Training_Metadata.csv"
# The one-hot columns of the ground-truth CSV, in the official order; UNK ("none
# of the others") has no training image but is a class of the challenge.
DIAGNOSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
_METADATA_COLUMNS = ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"]
# The official test set (issue 16): 8,238 images whose ground truth the ISIC
# challenge site publishes with the scorer's weights (README.md: sources).
_TEST_INPUT = "ISIC_2019_Test_Input"
_TEST_GROUND_TRUTH = "ISIC_2019_Test_GroundTruth.csv"
_TEST_METADATA = "ISIC_2019_Test_Metadata.csv"
# The test metadata has no lesion id.
_TEST_METADATA_COLUMNS = ["image", "age_approx", "anatom_site_general", "sex"]
# Column of the test ground truth that the official scorer (isic-challenge-scoring,
# `parse_truth_csv`) weighs each image's score by; 1.0 when the file has none.
_SCORE_WEIGHT = "score_weight"
# The official test set, kept whole: not part of the grouped train / validation /
# test made from the training data.
CHALLENGE_TEST = "challenge_test"
# Images of the MSK source are named `ISIC_<id>_downsampled.jpg` in the zip and in
# the CSVs; LICENSE.txt and ATTRIBUTION.txt match nothing.
_IMAGE_PATTERN = r"(ISIC_\d+(?:_downsampled)?)\.jpg"

# No MD5 or size of the 2019 files is published: TFDS' own download checks apply.
FILES = [
    sources.RemoteFile(name, _BASE_URL + name)
    for name in (
        _INPUT + ".zip",
        _GROUND_TRUTH,
        _METADATA,
        _TEST_INPUT + ".zip",
        _TEST_GROUND_TRUTH,
        _TEST_METADATA,
    )
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """ISIC 2019: dermoscopic images, 8 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "Split `challenge_test`: the official test images with their "
        "published ground truth; feature `score_weight`.",
    }
    BUILDER_CONFIGS = splits.size_configs()
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES, download_size="the image zip is about 9 GB, the test zip 3.6 GB"
    )

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                anatom_site_general=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
                # The official scorer's weight of a `challenge_test` image (0 for
                # images it leaves out); 1.0 in the splits made from training data.
                score_weight=tfds.features.Scalar(dtype=np.float32),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://challenge.isic-archive.com/landing/2019/",
        )

    def _split_generators(self, dl_manager):
        paths = sources.locate(self, dl_manager, FILES)
        training = _read_part(
            paths,
            input_name=_INPUT,
            truth=_GROUND_TRUTH,
            metadata_name=_METADATA,
            metadata_columns=_METADATA_COLUMNS,
        )
        groups = {i: r["lesion_id"].strip() for i, r in training["metadata"].items()}
        ids = classification.split_ids(self.builder_config, training["labels"], groups)
        generators = {
            split: self._generate_examples(**training, ids=split_ids)
            for split, split_ids in ids.items()
        }
        test = _read_part(
            paths,
            input_name=_TEST_INPUT,
            truth=_TEST_GROUND_TRUTH,
            metadata_name=_TEST_METADATA,
            metadata_columns=_TEST_METADATA_COLUMNS,
        )
        generators[CHALLENGE_TEST] = self._generate_examples(
            **test, ids=sorted(test["labels"])
        )
        return generators

    def _generate_examples(
        self, input_zip, input_name, labels, labels_name, metadata, weights, ids
    ):
        for image_id, data in classification.images(
            input_zip,
            name=input_name + ".zip",
            top_folder=input_name,
            pattern=_IMAGE_PATTERN,
            labels=labels,
            labels_name=labels_name,
            ids=ids,
            shorter_side=self.builder_config.shorter_side,
        ):
            row = metadata[image_id]
            yield (
                image_id,
                {
                    "image": data,
                    "image_id": image_id,
                    "diagnosis": labels[image_id],
                    "melanoma": int(labels[image_id] == "MEL"),
                    "age_approximate": classification.age(row["age_approx"]),
                    "sex": classification.sex(row["sex"]),
                    "anatom_site_general": classification.text_or_unknown(
                        row["anatom_site_general"]
                    ),
                    # Empty when the metadata has none (the image is then its own
                    # group in the splits; the test metadata has no lesion ids).
                    "lesion_id": (row.get("lesion_id") or "").strip(),
                    "score_weight": weights.get(image_id, 1.0),
                },
            )


def _read_part(paths, *, input_name, truth, metadata_name, metadata_columns):
    """The checked labels, metadata and score weights of the training or the test
    files, as the arguments of `Builder._generate_examples`.

    Raises `archives.IntegrityError` naming the file and ids of a label row without
    metadata row or vice versa (and those of `read_one_hot` / `read_weights`).
    """
    data = paths[truth].read_bytes()
    labels = classification.read_one_hot(data, name=truth, columns=DIAGNOSES)
    metadata = archives.rows_by_id(
        archives.read_csv(
            paths[metadata_name].read_bytes(),
            name=metadata_name,
            columns=metadata_columns,
        ),
        name=metadata_name,
        key="image",
    )
    archives.check_same_ids(
        labels, metadata, images_name=truth, labels_name=metadata_name
    )
    return {
        "input_zip": paths[input_name + ".zip"],
        "input_name": input_name,
        "labels": labels,
        "labels_name": truth,
        "metadata": metadata,
        # {} for the training ground truth, which has no weights: all weigh 1.
        "weights": classification.read_weights(data, name=truth, column=_SCORE_WEIGHT),
    }
