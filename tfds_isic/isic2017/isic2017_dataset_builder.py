"""isic2017: ISIC 2017 challenge, Part 3 lesion classification."""

import tensorflow_datasets as tfds

from tfds_isic import archives, classification, imaging, sources

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2017/"
# Split name -> the part of the official file names.
_PARTS = {"train": "Training", "validation": "Validation", "test": "Test_v2"}
# Published MD5s of the official files.
_MD5 = {
    "ISIC-2017_Training_Data.zip": "a14a7e622c67a358797ae59abb8a0b0c",
    "ISIC-2017_Training_Part3_GroundTruth.csv": "0cb4add57c65c22ca1a1cb469ad1f0c5",
    "ISIC-2017_Validation_Data.zip": "8d6419d942112f709894c0d82f6c9038",
    "ISIC-2017_Validation_Part3_GroundTruth.csv": "8d4826a76adcd8fb928ca52a23ebae4c",
    "ISIC-2017_Test_v2_Data.zip": "5f6a0b5e1f2972bd1f5ea02680489f09",
    "ISIC-2017_Test_v2_Part3_GroundTruth.csv": "9e957b72a0c4f9e0d924889fd03b36ed",
}
_LABELS = ["nevus", "melanoma", "seborrheic_keratosis"]
# Ground-truth CSV columns holding 0/1; nevus = both 0.
_FLAG_COLUMNS = ("melanoma", "seborrheic_keratosis")
_IMAGE_PATTERN = r"(ISIC_\d+)\.jpg"  # not the `ISIC_<id>_superpixels.png` files


def _data_name(part):
    return f"ISIC-2017_{part}_Data"


def _labels_name(part):
    return f"ISIC-2017_{part}_Part3_GroundTruth.csv"


FILES = [
    sources.RemoteFile(name, _BASE_URL + name, _MD5[name])
    for part in _PARTS.values()
    for name in (_data_name(part) + ".zip", _labels_name(part))
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """ISIC 2017 Part 3: dermoscopic images labelled nevus, melanoma or SK."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release.",
        "1.1.0": "`sex` is a ClassLabel (female, male, unknown), as --metadata "
        "reads it (issue 26); a value outside them is stored as unknown and logged.",
    }
    BUILDER_CONFIGS = imaging.SIZE_CONFIGS
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(FILES)

    def _info(self):
        return self.dataset_info_from_configs(
            features=classification.features(_LABELS, label="label"),
            supervised_keys=("image", "melanoma"),
            homepage="https://challenge.isic-archive.com/landing/2017/",
        )

    def _split_generators(self, dl_manager):
        paths = sources.locate(self, dl_manager, FILES)
        # Every split's metadata is read before the first image, so that values
        # outside the ClassLabels are logged once per build (`MetadataValues`).
        values = classification.MetadataValues()
        metadata = {
            part: _read_metadata(paths[_data_name(part) + ".zip"], part, values)
            for part in _PARTS.values()
        }
        values.warn(self.name)
        return {
            split: self._generate_examples(
                data_zip=paths[_data_name(part) + ".zip"],
                labels_csv=paths[_labels_name(part)],
                part=part,
                metadata=metadata[part],
            )
            for split, part in _PARTS.items()
        }

    def _generate_examples(self, data_zip, labels_csv, part, metadata):
        labels_name = _labels_name(part)
        labels = _read_labels(labels_csv.read_bytes(), name=labels_name)
        top_folder = _data_name(part)
        with archives.ZipArchive(data_zip, name=top_folder + ".zip") as archive:
            images = archive.image_members(
                top_folder=top_folder,
                pattern=_IMAGE_PATTERN,
                labels=labels,
                labels_name=labels_name,
            )
            for image_id in sorted(images):
                data = imaging.stored_image(
                    archive.read(images[image_id]),
                    self.builder_config.shorter_side,
                    image_id=image_id,
                    archive=archive.name,
                )
                age, sex = metadata.get(image_id, (-1, "unknown"))
                yield (
                    image_id,
                    {
                        "image": data,
                        "image_id": image_id,
                        "label": labels[image_id],
                        "melanoma": int(labels[image_id] == "melanoma"),
                        "age_approximate": age,
                        "sex": sex,
                    },
                )


def _read_labels(data, *, name):
    """{image_id: label name} from a Part 3 ground-truth CSV (0.0/1.0 columns).

    Raises `archives.IntegrityError` naming the ids of repeated rows, of values
    other than 0 or 1 (a 0.9 or a 2.0 is no nevus) and of images marked both
    melanoma and seborrheic keratosis.
    """
    flags = classification.read_flags(
        data, name=name, columns=_FLAG_COLUMNS, key="image_id"
    )
    both = [
        image_id
        for image_id, f in flags.items()
        if f["melanoma"] and f["seborrheic_keratosis"]
    ]
    if both:
        raise archives.IntegrityError(
            f"{name}: an image is melanoma, seborrheic keratosis or neither (nevus), "
            "never both. Received: melanoma=1 and seborrheic_keratosis=1 for "
            f"{archives.listing(both)}"
        )
    return {
        image_id: (
            "melanoma"
            if f["melanoma"]
            else "seborrheic_keratosis"
            if f["seborrheic_keratosis"]
            else "nevus"
        )
        for image_id, f in flags.items()
    }


def _read_metadata(data_zip, part, values):
    """{image_id: (age or -1, sex)} from the metadata CSV in the `part`'s zip,
    sex read by `values` (`classification.MetadataValues`)."""
    top_folder = _data_name(part)
    member = f"{top_folder}/{top_folder}_metadata.csv"
    with archives.ZipArchive(data_zip, name=top_folder + ".zip") as archive:
        if member not in archive.members:
            return {}  # Subset archives may leave it out: age and sex are unknown.
        data = archive.read(member)
    rows = archives.read_csv(data, name=member, columns=["image_id"])
    # Ages are "unknown" in some rows of the official CSVs.
    return {
        row["image_id"]: (
            classification.age(row.get("age_approximate")),
            values.sex(row.get("sex")),
        )
        for row in rows
    }
