"""Small archives laid out exactly like the official ISIC 2017 / 2018 downloads.

Used by the tests (in temporary directories), for the memory measurement of a
2000-image archive, and to (re)write the builders' `dummy_data/`:

    python -m tests.tfds_isic.fake_isic   # from the repository root
"""

import csv
import io
import pathlib
import warnings
import zipfile

import cv2
import numpy as np

ISIC2017_PARTS = ("Training", "Validation", "Test_v2")
ISIC2018_PARTS = ("Training", "Validation", "Test")
LABELS = ("nevus", "melanoma", "seborrheic_keratosis")
_DATE = (2017, 1, 1, 0, 0, 0)  # fixed timestamps: the same bytes on every run


def _lesion(rng, shape):
    """A uint8 RGB image with an elliptical lesion, and its 0/255 mask."""
    height, width = shape
    skin = rng.uniform(150, 230, 3)
    image = np.broadcast_to(skin, (height, width, 3)).astype(np.float32).copy()
    image += rng.normal(0, 4, image.shape)
    mask = np.zeros((height, width), np.uint8)
    center = (int(width * rng.uniform(0.4, 0.6)), int(height * rng.uniform(0.4, 0.6)))
    axes = (max(2, int(width * rng.uniform(0.15, 0.3))), max(2, int(height * 0.25)))
    cv2.ellipse(mask, center, axes, rng.uniform(0, 180), 0, 360, 255, -1)
    image[mask > 0] = rng.uniform(40, 120, 3)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _superpixels(shape):
    """Superpixel index map encoded in R + 256 G, like the official PNGs (8 px cells)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    index = (yy // 8) * (shape[1] // 8 + 1) + xx // 8
    return np.stack([index % 256, index // 256, 0 * index], -1).astype(np.uint8)


def jpeg(image):
    return cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))[1].tobytes()


def png(image):
    return cv2.imencode(".png", image)[1].tobytes()


def _csv(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def write_zip(path, members, *, mode="w"):
    """Writes {member name: bytes} (in order) with fixed timestamps.

    `mode="a"` appends to an existing zip, also names it already holds (a zip may
    hold one name twice; the tests of the duplicate checks write such zips).
    """
    with zipfile.ZipFile(path, mode) as archive, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_DATE)
            stored = name.endswith((".jpg", ".png"))
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def folder_and_rng(directory, seed):
    """The target folder of a writer (created) and the generator of its images."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory, np.random.default_rng(seed)


def image_ids(part_index, count):
    return [f"ISIC_{part_index * 100000 + i:07d}" for i in range(count)]


def isic2017_labels(count):
    """Label names cycling nevus, melanoma, SK, nevus, ...: every class appears."""
    return [LABELS[(0, 1, 2, 0)[i % 4]] for i in range(count)]


def write_isic2017(directory, sizes=None, *, image_shape=(48, 64), seed=0):
    """Writes the six official ISIC 2017 Part 3 files into `directory`.

    Args:
        directory: target folder (created).
        sizes: {part: number of images}, parts as in `ISIC2017_PARTS`.
        image_shape: (height, width) of every image.
        seed: numpy seed of the drawn images.

    Returns:
        {part: {image_id: label name}}.
    """
    sizes = sizes or {"Training": 5, "Validation": 3, "Test_v2": 3}
    directory, rng = folder_and_rng(directory, seed)
    written = {}
    for part_index, part in enumerate(ISIC2017_PARTS):
        ids = image_ids(part_index, sizes[part])
        labels = dict(zip(ids, isic2017_labels(len(ids)), strict=True))
        top = f"ISIC-2017_{part}_Data"
        members = {}
        for image_id in ids:
            image, _ = _lesion(rng, image_shape)
            members[f"{top}/{image_id}.jpg"] = jpeg(image)
            members[f"{top}/{image_id}_superpixels.png"] = png(
                _superpixels(image_shape)
            )
        ages = ["55", "unknown", "30", "70.0"]
        sexes = ["male", "female", "unknown", "female"]
        members[f"{top}/{top}_metadata.csv"] = _csv(
            ["image_id", "age_approximate", "sex"],
            [[i, ages[k % 4], sexes[k % 4]] for k, i in enumerate(ids)],
        )
        write_zip(directory / f"{top}.zip", members)
        (directory / f"ISIC-2017_{part}_Part3_GroundTruth.csv").write_bytes(
            _csv(
                ["image_id", "melanoma", "seborrheic_keratosis"],
                [
                    [i, f"{float(y == 'melanoma')}", f"{float(y == LABELS[2])}"]
                    for i, y in labels.items()
                ],
            )
        )
        written[part] = labels
    return written


def write_isic2018(directory, sizes=None, *, image_shape=(48, 64), seed=0):
    """Writes the six official ISIC 2018 Task 1 zips into `directory`.

    Returns:
        {part: {image_id: mask (uint8, 0/255)}}.
    """
    sizes = sizes or {"Training": 3, "Validation": 2, "Test": 2}
    directory, rng = folder_and_rng(directory, seed)
    written = {}
    for part_index, part in enumerate(ISIC2018_PARTS):
        input_top = f"ISIC2018_Task1-2_{part}_Input"
        truth_top = f"ISIC2018_Task1_{part}_GroundTruth"
        notes = {"LICENSE.txt": b"CC-BY-NC\n", "ATTRIBUTION.txt": b"ISIC Archive\n"}
        inputs = {f"{input_top}/{k}": v for k, v in notes.items()}
        truths = {f"{truth_top}/{k}": v for k, v in notes.items()}
        masks = {}
        for image_id in image_ids(part_index, sizes[part]):
            image, mask = _lesion(rng, image_shape)
            inputs[f"{input_top}/{image_id}.jpg"] = jpeg(image)
            truths[f"{truth_top}/{image_id}_segmentation.png"] = png(mask)
            masks[image_id] = mask
        write_zip(directory / f"{input_top}.zip", inputs)
        write_zip(directory / f"{truth_top}.zip", truths)
        written[part] = masks
    return written


if __name__ == "__main__":
    root = pathlib.Path(__file__).resolve().parents[2] / "tfds_isic"
    write_isic2017(root / "isic2017" / "dummy_data")
    write_isic2018(root / "isic2018_task1" / "dummy_data")
