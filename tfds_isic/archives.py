"""Reading the official ISIC challenge archives for the TFDS builders.

Shared by `isic2017` and `isic2018_task1`:
- `locate`: the archives come from `manual_dir` when they are there (then the network
  is never touched) or are downloaded from the public ISIC bucket;
  `optional_manual_file`: a file read only when the user put it there;
- `check_md5`: compares with the published MD5s and names the corrupt file;
  `TFDS_ISIC_SKIP_MD5=1` turns the check off (re-packed or subset archives);
- `ZipArchive`: random access to the members of a zip through `epath`, one member in
  memory at a time, with checks of the top folder and of one file per image id, and
  size limits (`MemberLimits`) checked before a member is read;
- `rows_by_id`, `check_same_ids`: one CSV row per id, and the same ids in images and
  labels (`IntegrityError`s name the file and the ids at fault);
- `decode_resized`, `check_decodable`, `encode_jpeg`, `encode_png`: OpenCV image
  work done once at build time (large JPEGs decoded at a DCT-reduced scale; images
  over a pixel limit refused before decoding).

File access goes through `epath` (the TFDS test harness forbids `os` file calls in
builder modules, and `epath` also reads GCS paths).
"""

import collections
import csv
import dataclasses
import hashlib
import io
import os
import re
import zipfile
import zlib

import cv2
import numpy as np
import tensorflow_datasets as tfds
from etils import epath

SKIP_MD5_ENV = "TFDS_ISIC_SKIP_MD5"
MAX_MEMBER_BYTES_ENV = "TFDS_ISIC_MAX_MEMBER_BYTES"
MAX_COMPRESSION_RATIO_ENV = "TFDS_ISIC_MAX_COMPRESSION_RATIO"
# Issue 14: a 1.47 MiB zip whose one member expands to 1.5 GB took a build to 3.6 GiB.
# The largest official ISIC members are JPEGs of ~30 MB: 256 MiB leaves 8x room.
DEFAULT_MAX_MEMBER_BYTES = 256 << 20
# JPEGs barely compress in a zip (~1.0), PNG masks ~2.6 and ground-truth CSVs ~8
# (measured on a 6748x4499 lesion mask and a 2000-row ISIC 2017 CSV); zeros ~1000.
DEFAULT_MAX_COMPRESSION_RATIO = 100.0
MAX_IMAGE_PIXELS_ENV = "TFDS_ISIC_MAX_IMAGE_PIXELS"
# As `experiments.predict --max_pixels`: over 3 times the largest ISIC image (30 MP).
# A member under the size limit can still decode to far more than it weighs: a
# 0.75 MB PNG of 16000 x 16000 black pixels takes 768 MB (issue 14).
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000
# Below this uncompressed size a member is not ratio-checked: it cannot hurt, and a
# small file of repeated bytes compresses well without being a bomb.
_RATIO_CHECK_MIN_BYTES = 1 << 20
JPEG_QUALITY = 95
_MAX_LISTED = 10


class IntegrityError(ValueError):
    """An archive or CSV contradicts itself: an id twice, a label that is no label.

    Raised instead of letting one of two candidates win silently; the message names
    the file and the image ids at fault.
    """


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One official file: its name (as downloaded), URL and published MD5 if any."""

    name: str
    url: str
    md5: str | None = None


@dataclasses.dataclass(eq=False)
class SizeConfig(tfds.core.BuilderConfig):
    """Stored image size: shorter side in pixels, or None for the original bytes."""

    shorter_side: int | None = None


SIZE_CONFIGS = [
    SizeConfig(
        name="256",
        shorter_side=256,
        description="Shorter side resized to 256 px (aspect kept), JPEG quality 95.",
    ),
    SizeConfig(
        name="512",
        shorter_side=512,
        description="Shorter side resized to 512 px (aspect kept), JPEG quality 95.",
    ),
    SizeConfig(
        name="full",
        shorter_side=None,
        description="Original image bytes, untouched.",
    ),
]


def md5_check_enabled():
    """False when `TFDS_ISIC_SKIP_MD5` is set to 1/true/yes."""
    value = os.environ.get(SKIP_MD5_ENV, "").strip().lower()
    return value not in ("1", "true", "yes")


@dataclasses.dataclass(frozen=True)
class MemberLimits:
    """What `ZipArchive.read` accepts of a member before reading it.

    Attributes:
        max_bytes: largest uncompressed size, in bytes.
        max_ratio: largest uncompressed / compressed size (checked on members over
            1 MiB).
    """

    max_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO

    @classmethod
    def from_env(cls):
        """The defaults, overridden by `TFDS_ISIC_MAX_MEMBER_BYTES` and
        `TFDS_ISIC_MAX_COMPRESSION_RATIO` where set."""
        return cls(
            max_bytes=_env_number(MAX_MEMBER_BYTES_ENV, int, DEFAULT_MAX_MEMBER_BYTES),
            max_ratio=_env_number(
                MAX_COMPRESSION_RATIO_ENV, float, DEFAULT_MAX_COMPRESSION_RATIO
            ),
        )


def _env_number(name, kind, default):
    """The positive number in the environment variable `name`, else `default`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise ValueError(
            f"The environment variable {name} must be a positive "
            f"{'integer' if kind is int else 'number'}. Received: {name}={text}"
        )
    return value


def listing(items):
    """`a, b, c` with at most `_MAX_LISTED` items and a count of the rest."""
    items = sorted(items)
    text = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += f" and {len(items) - _MAX_LISTED} more"
    return text


def _repeated(pairs):
    """{key: [values]} of the keys that come with more than one value in `pairs`."""
    groups = collections.defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return {key: values for key, values in groups.items() if len(values) > 1}


def _manual_dir(dl_manager):
    """`(path, explicit, configured)` of the manual dir.

    `path` is the manual dir if it exists and is not empty, else None; `explicit`
    is True when the user passed one (`--manual_dir`), i.e. `configured` is not
    TFDS' default `<download_dir>/manual`.
    """
    try:
        path = epath.Path(dl_manager.manual_dir)
    except (AssertionError, ValueError):  # TFDS: missing or empty manual dir
        path = None
    # TFDS keeps the configured manual dir (existing or not) in `_manual_dir`.
    configured = getattr(dl_manager, "_manual_dir", None) or path
    default = epath.Path(dl_manager.download_dir) / "manual"
    explicit = configured is not None and epath.Path(configured) != default
    return path, explicit, configured


def locate(dl_manager, files, *, build_command):
    """Paths of `files` ({name: path}), from `manual_dir` or downloaded.

    All files present in the manual dir: they are used and nothing is downloaded.
    None present and no `--manual_dir` given: all are downloaded from their URLs.
    Otherwise (some missing, or an explicit `--manual_dir` without them): a
    `FileNotFoundError` lists each missing file with its URL.
    """
    manual, explicit, configured = _manual_dir(dl_manager)
    present = {
        f.name for f in files if manual is not None and (manual / f.name).exists()
    }
    if len(present) == len(files):
        return {f.name: manual / f.name for f in files}
    if present or explicit:
        missing = "\n".join(
            f"  {f.name}  ({f.url})" for f in files if f.name not in present
        )
        raise FileNotFoundError(
            f"Missing in manual_dir {configured}:\n{missing}\n"
            "Put the official files there under these names, or download them all "
            f"by building without --manual_dir: {build_command}"
        )
    downloaded = dl_manager.download({f.name: f.url for f in files})
    return {name: epath.Path(path) for name, path in downloaded.items()}


def optional_manual_file(dl_manager, names):
    """Path of the first of `names` in the manual dir, or None.

    For files with no stable download URL (HAM10000's metadata on Dataverse is
    served by file id only, issue 16): read when the user put one there.
    """
    manual, _, _ = _manual_dir(dl_manager)
    for name in names:
        if manual is not None and (manual / name).exists():
            return manual / name
    return None


def file_md5(path, chunk_size=1 << 20):
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with epath.Path(path).open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(paths, files):
    """Raises `ValueError` naming each file whose MD5 differs from the published one."""
    if not md5_check_enabled():
        return
    bad = []
    for f in files:
        if f.md5 is None:
            continue
        actual = file_md5(paths[f.name])
        if actual != f.md5:
            bad.append(f"  {f.name} at {paths[f.name]}: MD5 {actual}, expected {f.md5}")
    if bad:
        raise ValueError(
            "Corrupt or non-official ISIC file(s) (MD5 differs from the published "
            "one):\n" + "\n".join(bad) + "\nDownload them again from "
            "https://challenge.isic-archive.com/data/ , or set "
            f"{SKIP_MD5_ENV}=1 to build from re-packed or subset archives that keep "
            "the official names."
        )


class ZipArchive:
    """A zip read member by member (random access, never the whole archive).

    Args:
        path: the zip file.
        name: what messages call it (the official file name).
        limits: `MemberLimits` of `read`; default: `MemberLimits.from_env()`.
    """

    def __init__(self, path, *, name, limits=None):
        self.name = name
        self.path = epath.Path(path)
        self.limits = MemberLimits.from_env() if limits is None else limits
        self._file = self.path.open("rb")
        try:
            self._zip = zipfile.ZipFile(self._file)
        except zipfile.BadZipFile as e:
            self._file.close()
            raise ValueError(
                f"{name} ({self.path}) is not a valid zip file: {e}"
            ) from e
        # Folder entries and macOS resource forks carry no data.
        self.members = [
            m
            for m in self._zip.namelist()
            if not m.endswith("/") and not m.startswith("__MACOSX/")
        ]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._zip.close()
        self._file.close()

    def check_top_folder(self, top_folder):
        """Raises `ValueError` unless every member lies under `top_folder/`."""
        prefix = top_folder + "/"
        outside = [m for m in self.members if not m.startswith(prefix)]
        if outside or not self.members:
            found = {m.split("/", 1)[0] + ("/" if "/" in m else "") for m in outside}
            raise ValueError(
                f"{self.name} ({self.path}): expected all files inside the top folder "
                f"'{prefix}', as in the official archive; found "
                f"{listing(found) if found else 'an empty archive'}."
            )

    def files_matching(self, pattern, *, what):
        """{match.group(1): member} for members whose base name matches `pattern`.

        Raises `IntegrityError` naming the ids with more than one member: the same
        name twice, in two folders, or with another extension (`ISIC_0000001.jpg`
        and `ISIC_0000001.png`). Which one is the id's `what` ("image", "mask")
        would be a guess (zipfile silently reads the last of two equal names).
        """
        regex = re.compile(pattern)
        ids = {}  # {stem: id} of the members that match
        for member in self.members:
            match = regex.fullmatch(member.rsplit("/", 1)[-1])
            if match:
                ids[_stem(member)] = match.group(1)
        found = [(ids[_stem(m)], m) for m in self.members if _stem(m) in ids]
        repeated = _repeated(found)
        if repeated:
            raise IntegrityError(
                f"{self.name} ({self.path}) holds more than one file for one image "
                f"id; expected one {what} per id, as in the official archive. "
                "Received: "
                + listing(f"{i} ({' and '.join(m)})" for i, m in repeated.items())
            )
        return dict(found)

    def read(self, member):
        """The bytes of `member`, refused (`ValueError` naming archive and member)
        when its size or compression ratio is over `limits`, or its data is corrupt.

        The sizes are checked before anything is decompressed, and the read is
        bounded too, so that a member whose header lies cannot fill the memory.
        """
        info = self._zip.getinfo(member)
        limits = self.limits
        where = f"{self.name} ({self.path}): member {member}"
        advice = (
            f"A real ISIC file is far smaller; if this one is genuine, raise the limit "
            f"with {MAX_MEMBER_BYTES_ENV} / {MAX_COMPRESSION_RATIO_ENV}."
        )
        if info.file_size > limits.max_bytes:
            raise ValueError(
                f"{where} expands to {info.file_size} bytes, more than the limit of "
                f"{limits.max_bytes}. {advice} Received: file_size={info.file_size}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_MIN_BYTES and ratio > limits.max_ratio:
            raise ValueError(
                f"{where} expands {ratio:.0f} times ({info.compress_size} -> "
                f"{info.file_size} bytes), more than the limit of {limits.max_ratio:g} "
                f"(a zip bomb?). {advice} Received: compression_ratio={ratio:.1f}"
            )
        try:
            with self._zip.open(info) as file:
                data = file.read(limits.max_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ValueError(f"{where} is corrupt: {error}") from error
        if len(data) > limits.max_bytes:  # zipfile trusts the header: belt and braces
            raise ValueError(
                f"{where} holds more than its declared {info.file_size} bytes and "
                f"more than the limit of {limits.max_bytes}."
            )
        return data


def _stem(member):
    """Base name without its extension: `a/ISIC_0000001.jpg` -> `ISIC_0000001`."""
    return member.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def read_csv(data, *, name, columns):
    """Rows (dicts) of a CSV given as bytes whose header holds `columns`."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    fields = reader.fieldnames or []
    missing = [c for c in columns if c not in fields]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {', '.join(missing)}; expected a header "
            f"with {','.join(columns)}. Received: columns={','.join(fields)}"
        )
    return list(reader)


def rows_by_id(rows, *, name, key="image_id"):
    """{row[key]: row}; raises `IntegrityError` naming the ids of more than one row.

    Two rows for one image, even with the same labels, mean an edited or merged
    file: which row holds would be a guess.
    """
    repeated = _repeated((row[key], row) for row in rows)
    if repeated:
        raise IntegrityError(
            f"{name} holds more than one row for one {key}; expected one row per "
            "image, as in the official file. Received: "
            + listing(f"{i} ({len(r)} rows)" for i, r in repeated.items())
        )
    return {row[key]: row for row in rows}


def check_same_ids(images, labels, *, images_name, labels_name):
    """Raises `IntegrityError` naming ids with an image but no label, or vice versa."""
    no_label = set(images) - set(labels)
    no_image = set(labels) - set(images)
    if no_label or no_image:
        lines = [f"{images_name} and {labels_name} do not match:"]
        if no_label:
            lines.append(
                f"  images without a label in {labels_name}: {listing(no_label)}"
            )
        if no_image:
            lines.append(
                f"  labels without an image in {images_name}: {listing(no_image)}"
            )
        raise IntegrityError("\n".join(lines))


_REDUCED_COLOR = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
# JPEG start-of-frame markers (SOF0..SOF15 without DHT, JPG and DAC).
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def jpeg_size(data):
    """(height, width) from a JPEG's frame header, or None if `data` is no JPEG."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _SOF_MARKERS:
            return (
                int.from_bytes(data[i + 5 : i + 7], "big"),
                int.from_bytes(data[i + 7 : i + 9], "big"),
            )
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def png_size(data):
    """(height, width) from a PNG's IHDR chunk, or None if `data` is no PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")


def _check_pixels(data, *, image_id, archive, reduction):
    """Raises `ValueError` naming id and archive when decoding `data` would make an
    image of more than `TFDS_ISIC_MAX_IMAGE_PIXELS` pixels (size from the header)."""
    size = jpeg_size(data)
    if size is None:  # OpenCV reduces other formats only after a full decode
        size, reduction = png_size(data), 1
    if size is None:
        return
    height, width = size
    pixels = -(-height // reduction) * -(-width // reduction)
    limit = _env_number(MAX_IMAGE_PIXELS_ENV, int, DEFAULT_MAX_IMAGE_PIXELS)
    if pixels > limit:
        scale = f" at 1/{reduction} scale" if reduction > 1 else ""
        raise ValueError(
            f"Image {image_id} in {archive} is {width}x{height} pixels: decoding it"
            f"{scale} makes {pixels} pixels, more than the limit of {limit} (a real "
            f"ISIC image has at most ~30 million; if this one is genuine, raise "
            f"{MAX_IMAGE_PIXELS_ENV}). Received: size={width}x{height}"
        )


def decode(data, *, image_id, archive, grayscale=False, reduction=1):
    """uint8 RGB (H, W, 3), or (H, W) when `grayscale`; errors name id and archive.

    `reduction` 2, 4 or 8 decodes a JPEG at that fraction of its size (libjpeg's
    DCT scaling: much faster and smaller than decoding, then shrinking). A JPEG or
    PNG whose header promises more than `TFDS_ISIC_MAX_IMAGE_PIXELS` decoded pixels
    is refused before decoding.
    """
    _check_pixels(
        data,
        image_id=image_id,
        archive=archive,
        reduction=1 if grayscale else reduction,
    )
    flags = cv2.IMREAD_GRAYSCALE if grayscale else _REDUCED_COLOR[reduction]
    # Pixels as stored, like tf.image.decode_jpeg (OpenCV would apply EXIF rotation).
    flags |= cv2.IMREAD_IGNORE_ORIENTATION
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None:
        raise ValueError(
            f"Cannot decode image {image_id} in {archive}: not a valid image."
        )
    if grayscale:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def check_decodable(data, *, image_id, archive):
    """Raises `ValueError` naming id and archive unless `data` decodes (cheaply)."""
    decode(data, image_id=image_id, archive=archive, reduction=8)


def decode_resized(data, shorter_side, *, image_id, archive):
    """Decodes and resizes so the shorter side is `shorter_side` (aspect kept).

    Returns `(image, (height, width))`: the resized uint8 RGB image and the size of
    the stored original. A large JPEG is decoded at the largest DCT reduction that
    keeps its shorter side >= `shorter_side`, then area-resized to the exact size
    `shorter_side_shape` gives for the original.
    """
    size = jpeg_size(data)
    reduction = 1
    if size is not None:
        while reduction < 8 and min(size) >= shorter_side * reduction * 2:
            reduction *= 2
    image = decode(data, image_id=image_id, archive=archive, reduction=reduction)
    if size is None or reduction == 1:
        size = image.shape[:2]
    height, width = shorter_side_shape(*size, shorter_side)
    return resize_to(image, height, width), size


def shorter_side_shape(height, width, shorter_side):
    """(height, width) with the shorter side `shorter_side`, aspect ratio kept."""
    scale = shorter_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_to(image, height, width, *, nearest=False):
    """Resized to (height, width): area filter when shrinking, else bicubic."""
    if image.shape[:2] == (height, width):
        return image
    if nearest:
        interpolation = cv2.INTER_NEAREST
    elif height < image.shape[0]:
        interpolation = cv2.INTER_AREA
    else:
        interpolation = cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def resize_shorter_side(image, shorter_side, *, nearest=False):
    """Resizes so the shorter side is `shorter_side` (area filter when shrinking)."""
    height, width = shorter_side_shape(*image.shape[:2], shorter_side)
    return resize_to(image, height, width, nearest=nearest)


def encode_jpeg(image):
    """JPEG bytes of a uint8 RGB image."""
    ok, data = cv2.imencode(
        ".jpg",
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
    )
    assert ok
    return data.tobytes()


def encode_png(image):
    """PNG bytes of a uint8 single-channel image."""
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()
