"""ham10000: HAM10000 as the ISIC 2018 Task 3 training set, splits grouped by lesion."""

import tensorflow_datasets as tfds

from tfds_isic import archives, classification, splits

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2018/"
_INPUT = "ISIC2018_Task3_Training_Input"
_TRUTH = "ISIC2018_Task3_Training_GroundTruth"
_GROUPINGS = "ISIC2018_Task3_Training_LesionGroupings.csv"
# The one-hot columns of the ground-truth CSV, in the official order.
DIAGNOSES = ["MEL", "NV", "BCC", "AKIEC", "BKL", "DF", "VASC"]
_IMAGE_PATTERN = r"(ISIC_\d+)\.jpg"  # LICENSE.txt and ATTRIBUTION.txt match nothing

# No MD5 or size of the 2018 files is published: TFDS' own download checks apply.
FILES = [
    archives.RemoteFile(name, _BASE_URL + name)
    for name in (_INPUT + ".zip", _TRUTH + ".zip", _GROUPINGS)
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """HAM10000 (ISIC 2018 Task 3 training): 7 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = splits.size_configs()
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = classification.manual_instructions(FILES, "2.8 GB")

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                # histo / follow_up / consensus / confocal, or unknown.
                dx_type=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://doi.org/10.7910/DVN/DBW86T",
        )

    def _split_generators(self, dl_manager):
        paths = classification.locate(self, dl_manager, FILES)
        labels_name = f"{_TRUTH}/{_TRUTH}.csv"
        with archives.ZipArchive(paths[_TRUTH + ".zip"], name=_TRUTH + ".zip") as z:
            z.check_top_folder(_TRUTH)
            if labels_name not in z.members:
                raise ValueError(
                    f"{z.name} ({z.path}) lacks {labels_name}, the ground-truth CSV "
                    f"of the official archive. Received: members="
                    f"{archives.listing(z.members)}"
                )
            labels = classification.read_one_hot(
                z.read(labels_name), name=labels_name, columns=DIAGNOSES
            )
        groupings = archives.rows_by_id(
            archives.read_csv(
                paths[_GROUPINGS].read_bytes(),
                name=_GROUPINGS,
                columns=["image", "lesion_id", "diagnosis_confirm_type"],
            ),
            name=_GROUPINGS,
            key="image",
        )
        archives.check_same_ids(
            labels, groupings, images_name=labels_name, labels_name=_GROUPINGS
        )
        groups = {i: row["lesion_id"].strip() for i, row in groupings.items()}
        ids = classification.split_ids(self.builder_config, labels, groups)
        return {
            split: self._generate_examples(
                input_zip=paths[_INPUT + ".zip"],
                labels=labels,
                groupings=groupings,
                ids=s_ids,
            )
            for split, s_ids in ids.items()
        }

    def _generate_examples(self, input_zip, labels, groupings, ids):
        for image_id, data in classification.images(
            input_zip,
            name=_INPUT + ".zip",
            top_folder=_INPUT,
            pattern=_IMAGE_PATTERN,
            labels=labels,
            labels_name=_TRUTH,
            ids=ids,
            shorter_side=self.builder_config.shorter_side,
        ):
            yield (
                image_id,
                {
                    "image": data,
                    "image_id": image_id,
                    "diagnosis": labels[image_id],
                    "melanoma": int(labels[image_id] == "MEL"),
                    "dx_type": classification.text_or_unknown(
                        groupings[image_id]["diagnosis_confirm_type"]
                    ),
                    "lesion_id": groupings[image_id]["lesion_id"].strip(),
                },
            )
