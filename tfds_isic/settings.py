"""What the environment may change in a build, each with its default and why.

- `TFDS_ISIC_SKIP_MD5=1`: no MD5 check (re-packed or subset archives);
- `TFDS_ISIC_MAX_MEMBER_BYTES`, `TFDS_ISIC_MAX_COMPRESSION_RATIO`: what
  `archives.ZipArchive.read` accepts of a zip member (`MemberLimits`);
- `TFDS_ISIC_MAX_IMAGE_PIXELS`: the largest image `imaging.decode` decodes.

A value that is set but is no positive number stops the build, naming it.
"""

import dataclasses
import os

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


def max_image_pixels():
    """`TFDS_ISIC_MAX_IMAGE_PIXELS` where set, else `DEFAULT_MAX_IMAGE_PIXELS`."""
    return _env_number(MAX_IMAGE_PIXELS_ENV, int, DEFAULT_MAX_IMAGE_PIXELS)


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
