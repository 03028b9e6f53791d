"""isic2018_task1: ISIC 2018 challenge, Task 1 lesion boundary segmentation."""

import tensorflow_datasets as tfds

from tfds_isic import archives, imaging, sources

_BASE_URL = "https://isic-challenge-data.s3.amazonaws.com/2018/"
# Split name -> the part of the official file names.
_PARTS = {"train": "Training", "validation": "Validation", "test": "Test"}
_IMAGE_PATTERN = r"(ISIC_\d+)\.jpg"
_MASK_PATTERN = r"(ISIC_\d+)_segmentation\.png"


def _input_name(part):
    return f"ISIC2018_Task1-2_{part}_Input"


def _truth_name(part):
    return f"ISIC2018_Task1_{part}_GroundTruth"


# No MD5 of the 2018 files is published: only TFDS' own download checks apply.
FILES = [
    sources.RemoteFile(name + ".zip", _BASE_URL + name + ".zip")
    for part in _PARTS.values()
    for name in (_input_name(part), _truth_name(part))
]


class Builder(tfds.core.GeneratorBasedBuilder):
    """ISIC 2018 Task 1: dermoscopic images with binary lesion masks (0/1)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = imaging.SIZE_CONFIGS
    DEFAULT_CONFIG_NAME = "256"
    MANUAL_DOWNLOAD_INSTRUCTIONS = sources.manual_instructions(
        FILES, download_size="the training input is about 10.5 GB"
    )

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(
                        shape=(None, None, 3), encoding_format="jpeg"
                    ),
                    "image_id": tfds.features.Text(),
                    # 0 background, 1 lesion (the official PNGs hold 0/255).
                    "mask": tfds.features.Image(
                        shape=(None, None, 1), encoding_format="png"
                    ),
                }
            ),
            supervised_keys=("image", "mask"),
            homepage="https://challenge.isic-archive.com/landing/2018/45/",
        )

    def _split_generators(self, dl_manager):
        paths = sources.locate(self, dl_manager, FILES)
        return {
            split: self._generate_examples(
                input_zip=paths[_input_name(part) + ".zip"],
                truth_zip=paths[_truth_name(part) + ".zip"],
                part=part,
            )
            for split, part in _PARTS.items()
        }

    def _generate_examples(self, input_zip, truth_zip, part):
        shorter_side = self.builder_config.shorter_side
        with (
            archives.ZipArchive(input_zip, name=_input_name(part) + ".zip") as inputs,
            archives.ZipArchive(truth_zip, name=_truth_name(part) + ".zip") as truths,
        ):
            inputs.check_top_folder(_input_name(part))
            truths.check_top_folder(_truth_name(part))
            # LICENSE.txt and ATTRIBUTION.txt match neither pattern.
            images = inputs.files_matching(_IMAGE_PATTERN, what="image")
            masks = truths.files_matching(_MASK_PATTERN, what="mask")
            archives.check_same_ids(
                images, masks, images_name=inputs.name, labels_name=truths.name
            )
            for image_id in sorted(images):
                data = inputs.read(images[image_id])
                where = {"image_id": image_id, "archive": inputs.name}
                if shorter_side is None:  # "full": the original bytes, if valid
                    imaging.check_decodable(data, **where)
                    size = imaging.jpeg_size(data)
                    size = size or imaging.decode(data, **where).shape[:2]
                else:
                    image, size = imaging.decode_resized(data, shorter_side, **where)
                    data = imaging.encode_jpeg(image)
                mask = imaging.decode(
                    truths.read(masks[image_id]),
                    image_id=image_id,
                    archive=truths.name,
                    grayscale=True,
                )
                if mask.shape != tuple(size):
                    raise ValueError(
                        f"Mask of {image_id} in {truths.name} is {mask.shape[1]}x"
                        f"{mask.shape[0]} px, its image in {inputs.name} is "
                        f"{size[1]}x{size[0]} px."
                    )
                # The official masks hold 0/255: stored as 0/1.
                mask = (mask > 127).astype("uint8")
                if shorter_side is not None:
                    mask = imaging.resize_to(mask, *image.shape[:2], nearest=True)
                yield (
                    image_id,
                    {
                        "image": data,
                        "image_id": image_id,
                        "mask": imaging.encode_png(mask),
                    },
                )
