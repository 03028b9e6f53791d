"""tfds_isic.archives and tfds_isic.imaging under the limits of tfds_isic.settings:
zip members are size- and ratio-checked before they are read, a 1.5 GB member fails
with bounded memory, and an image over the pixel limit is refused from its header
(issue 14)."""

import pathlib
import struct
import sys
import zipfile

import cv2
import numpy as np
import pytest

from tests import hostile_files
from tfds_isic import archives, imaging, settings

REPO = pathlib.Path(__file__).resolve().parents[2]
NAME = "ISIC-2017_Training_Data.zip"
MEMBER = "ISIC-2017_Training_Data/ISIC_0000000.jpg"


def _zip(path, data, *, member=MEMBER):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return path


def _noise(size):
    return np.random.default_rng(0).integers(0, 256, size, np.uint8).tobytes()


def test_a_member_over_the_size_limit_is_refused(tmp_path):
    data = _noise(5000)  # incompressible, like a JPEG
    path = _zip(tmp_path / "a.zip", data)
    with archives.ZipArchive(path, name=NAME, limits=settings.MemberLimits(4999)) as a:
        with pytest.raises(ValueError, match="5000 bytes") as error:
            a.read(MEMBER)
    assert NAME in str(error.value) and MEMBER in str(error.value)
    assert "Received: file_size=5000" in str(error.value)
    with archives.ZipArchive(path, name=NAME, limits=settings.MemberLimits(5000)) as a:
        assert a.read(MEMBER) == data


def test_a_member_that_expands_too_much_is_refused(tmp_path):
    zeros = bytes(2 << 20)  # deflate: ~1000 times smaller
    path = _zip(tmp_path / "a.zip", zeros)
    ratio = zipfile.ZipFile(path).getinfo(MEMBER).file_size / (
        zipfile.ZipFile(path).getinfo(MEMBER).compress_size
    )
    assert ratio > 500
    with archives.ZipArchive(path, name=NAME) as archive:  # default limits
        with pytest.raises(ValueError, match="Received: compression_ratio=") as error:
            archive.read(MEMBER)
    assert NAME in str(error.value) and MEMBER in str(error.value)
    limits = settings.MemberLimits(max_ratio=ratio + 1)
    with archives.ZipArchive(path, name=NAME, limits=limits) as archive:
        assert archive.read(MEMBER) == zeros
    # A small member is not ratio-checked: it cannot hurt.
    small = _zip(tmp_path / "small.zip", bytes(100_000))
    with archives.ZipArchive(small, name=NAME) as archive:
        assert archive.read(MEMBER) == bytes(100_000)


def test_a_member_larger_than_its_header_says_is_refused(tmp_path):
    data = _noise(50_000)
    raw = bytearray(_zip(tmp_path / "a.zip", data).read_bytes())
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 100)  # uncompressed size: 100
    (tmp_path / "lying.zip").write_bytes(bytes(raw))
    with archives.ZipArchive(tmp_path / "lying.zip", name=NAME) as archive:
        assert archive._zip.getinfo(MEMBER).file_size == 100
        with pytest.raises(ValueError, match="is corrupt") as error:
            archive.read(MEMBER)
    assert NAME in str(error.value) and MEMBER in str(error.value)


def test_the_limits_come_from_the_environment(monkeypatch):
    monkeypatch.delenv(settings.MAX_MEMBER_BYTES_ENV, raising=False)
    monkeypatch.delenv(settings.MAX_COMPRESSION_RATIO_ENV, raising=False)
    assert settings.MemberLimits.from_env() == settings.MemberLimits(256 * 2**20, 100.0)
    monkeypatch.setenv(settings.MAX_MEMBER_BYTES_ENV, "1000")
    monkeypatch.setenv(settings.MAX_COMPRESSION_RATIO_ENV, "2.5")
    assert settings.MemberLimits.from_env() == settings.MemberLimits(1000, 2.5)
    for value in ("-1", "0", "lots", "inf"):
        monkeypatch.setenv(settings.MAX_COMPRESSION_RATIO_ENV, value)
        with pytest.raises(
            ValueError, match=f"TFDS_ISIC_MAX_COMPRESSION_RATIO={value}"
        ):
            settings.MemberLimits.from_env()


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(settings.MAX_IMAGE_PIXELS_ENV, raising=False)
    # 0.75 MB that would decode to 768 MB (issue 14): refused from its header.
    hostile_files.write_black_png(tmp_path / "huge.png", 16000, 16000)
    data = (tmp_path / "huge.png").read_bytes()
    assert imaging.png_size(data) == (16000, 16000)
    where = dict(image_id="ISIC_0000007", archive="x.zip")
    with pytest.raises(ValueError, match="ISIC_0000007 in x.zip is 16000x16000"):
        imaging.check_decodable(data, **where)
    with pytest.raises(ValueError, match="Received: size=16000x16000"):
        imaging.decode(data, grayscale=True, **where)
    # A JPEG counts at the scale it is decoded at.
    jpeg = cv2.imencode(".jpg", np.zeros((2000, 3008, 3), np.uint8))[1].tobytes()
    monkeypatch.setenv(settings.MAX_IMAGE_PIXELS_ENV, str(500 * 752))
    assert imaging.decode(jpeg, reduction=4, **where).shape == (500, 752, 3)
    with pytest.raises(ValueError, match="at 1/2 scale makes 1504000 pixels"):
        imaging.decode(jpeg, reduction=2, **where)
    image, size = imaging.decode_resized(jpeg, 256, **where)  # decoded at 1/4
    assert size == (2000, 3008) and image.shape == (256, 385, 3)


# Reads the archive's first member as the builders do (`ZipArchive.read`).
_READ_MEMBER = """
import sys
from tfds_isic import archives, imaging, settings
with archives.ZipArchive(sys.argv[1], name=sys.argv[2]) as archive:
    archive.read(archive.members[0])
"""


@pytest.mark.slow
def test_a_zip_bomb_fails_with_bounded_memory(tmp_path):
    # Issue 14: this 1.4 MiB zip took `tfds build isic2017/256` to 3.6 GiB.
    path = tmp_path / NAME
    hostile_files.write_zeros_zip(path, MEMBER, 1_500_000_000)
    assert path.stat().st_size < 2 << 20
    status, _, stderr, peak = hostile_files.run_measured(
        [sys.executable, "-c", _READ_MEMBER, str(path), NAME], cwd=REPO
    )
    assert peak < 1.2 * 2**30, f"peak RSS {peak / 2**30:.2f} GiB"
    assert status == 1, stderr
    assert f"{NAME} ({path}): member {MEMBER} expands to 1500000000 bytes" in stderr
