"""skinkeras.imagefiles: dimensions from the header (checked against OpenCV's full
decode) and the size limits applied before decoding (issue 14)."""

import cv2
import numpy as np
import pytest
from PIL import Image

from skinkeras import imagefiles
from tests import hostile_files


@pytest.mark.parametrize("extension", [".jpg", ".png", ".bmp", ".gif"])
@pytest.mark.parametrize("shape", [(37, 53), (80, 2), (1, 1)])
def test_image_size_matches_the_decoded_image(tmp_path, extension, shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), np.uint8)
    path = tmp_path / f"a{extension}"
    Image.fromarray(image).save(path)
    assert imagefiles.image_size(path) == cv2.imread(str(path)).shape[:2] == shape


def test_image_size_of_other_files_is_none(tmp_path):
    (tmp_path / "a.txt").write_text("not an image")
    jpeg = cv2.imencode(".jpg", np.zeros((40, 40, 3), np.uint8))[1].tobytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:20])  # the frame header is cut off
    assert imagefiles.image_size(tmp_path / "a.txt") is None
    assert imagefiles.image_size(tmp_path / "cut.jpg") is None
    assert imagefiles.size_problem(tmp_path / "cut.jpg") is None  # TF will say why
    with pytest.raises(OSError):
        imagefiles.image_size(tmp_path / "missing.png")


def test_size_problem_names_the_size_and_the_limit(tmp_path):
    # 256 megapixels in 0.75 MB: over Pillow's own bomb limit, still measured.
    hostile_files.write_black_png(tmp_path / "huge.png", 16000, 16000)
    assert imagefiles.size_problem(tmp_path / "huge.png") == (
        "16000x16000 = 256000000 pixels, more than max_pixels=100000000"
    )
    assert imagefiles.size_problem(tmp_path / "huge.png", max_pixels=16000**2) is None
    hostile_files.write_black_png(tmp_path / "thin.png", 80, 2)
    assert imagefiles.size_problem(tmp_path / "thin.png") == (
        "2x80 pixels, a side under min_side=32"
    )
    assert imagefiles.size_problem(tmp_path / "thin.png", min_side=2) is None
    hostile_files.write_black_png(tmp_path / "ok.png", 32, 100)
    assert imagefiles.size_problem(tmp_path / "ok.png") is None
    assert imagefiles.size_problem(tmp_path / "ok.png", max_pixels=3199) is not None


def test_hostile_png_decodes_to_black(tmp_path):
    hostile_files.write_black_png(tmp_path / "a.png", 70, 90)
    image = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)
    assert image.shape == (70, 90, 3) and not image.any()


def test_within_limits_keeps_the_order_and_reports_the_others(tmp_path):
    for name, (height, width) in {
        "b": (48, 64),
        "thin": (2, 80),
        "a": (40, 40),
        "huge": (16000, 16000),
    }.items():
        hostile_files.write_black_png(tmp_path / f"{name}.png", height, width)
    paths = [tmp_path / f"{n}.png" for n in ("b", "thin", "a", "huge")]
    lines = []
    kept = imagefiles.within_limits(
        paths, max_pixels=10**6, min_side=32, log=lines.append
    )
    assert kept == [tmp_path / "b.png", tmp_path / "a.png"]
    assert lines == [
        f"Skipping {paths[1]}: 80x2 pixels, a side under min_side=32",
        f"Skipping {paths[3]}: 16000x16000 = 256000000 pixels, more than "
        "max_pixels=1000000",
    ]
    with pytest.raises(ValueError, match="No image within --max_pixels"):
        imagefiles.within_limits(paths[1::2], max_pixels=10**6, min_side=32)
