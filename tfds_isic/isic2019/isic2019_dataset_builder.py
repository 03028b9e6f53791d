"""isic2019: ISIC 2019 challenge training data, 8 diagnoses, splits grouped by lesion."""

import numpy as np
import tensorflow_datasets as tfds

from tfds_isic import archives, classification, splits

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2019/"
_INPUT = "ISIC_2019_Training_Input"
_GROUND_TRUTH = "ISIC_2019_Training_GroundTruth.csv"
_METADATA = "ISIC_2019_Training_Metadata.csv"
# The one-hot columns of the ground-truth CSV, in the official order; UNK ("none
# of the others") has no training image but is a class of the challenge.
DIAGNOSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
_METADATA_COLUMNS = ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"]
# Images of the MSK source are named `ISIC_<id>_downsampled.jpg` in the zip and in
# the CSVs; LICENSE.txt and ATTRIBUTION.txt match nothing.
_IMAGE_PATTERN = r"(ISIC_\d+(?:_downsampled)?)\.jpg"

# No MD5 or size of the 2019 files is published: TFDS' own download checks apply.
FILES = [
    archives.RemoteFile(name, _BASE_URL + name)
    for name in (_INPUT + ".zip", _GROUND_TRUTH, _METADATA)
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """ISIC 2019: dermoscopic images, 8 diagnoses, lesion-grouped splits."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = splits.size_configs()
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = classification.manual_instructions(FILES, "9 GB")

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(
                DIAGNOSES,
                age_approximate=tfds.features.Scalar(dtype=np.int32),
                sex=tfds.features.Text(),
                anatom_site_general=tfds.features.Text(),
                lesion_id=tfds.features.Text(),
            ),
            supervised_keys=("image", "diagnosis"),
            homepage="https://challenge.isic-archive.com/landing/2019/",
        )

    def _split_generators(self, dl_manager):
        paths = classification.locate(self, dl_manager, FILES)
        labels = classification.read_one_hot(
            paths[_GROUND_TRUTH].read_bytes(), name=_GROUND_TRUTH, columns=DIAGNOSES
        )
        metadata = archives.rows_by_id(
            archives.read_csv(
                paths[_METADATA].read_bytes(),
                name=_METADATA,
                columns=_METADATA_COLUMNS,
            ),
            name=_METADATA,
            key="image",
        )
        archives.check_same_ids(
            labels, metadata, images_name=_GROUND_TRUTH, labels_name=_METADATA
        )
        groups = {i: row["lesion_id"].strip() for i, row in metadata.items()}
        ids = classification.split_ids(self.builder_config, labels, groups)
        return {
            split: self._generate_examples(
                input_zip=paths[_INPUT + ".zip"],
                labels=labels,
                metadata=metadata,
                ids=split_ids,
            )
            for split, split_ids in ids.items()
        }

    def _generate_examples(self, input_zip, labels, metadata, ids):
        for image_id, data in classification.images(
            input_zip,
            name=_INPUT + ".zip",
            top_folder=_INPUT,
            pattern=_IMAGE_PATTERN,
            labels=labels,
            labels_name=_GROUND_TRUTH,
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
                    # group in the splits).
                    "lesion_id": row["lesion_id"].strip(),
                },
            )
