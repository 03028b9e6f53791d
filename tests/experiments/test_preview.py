"""experiments.preview: flags → a PNG grid of the expected size."""

import cv2
import numpy as np
import pytest
from absl import flags

from experiments import preview
from tests import hostile_files
from tests.data.images import random_image, structured_image


def run_preview(*args):
    flag_values = flags.FlagValues()  # not the global FLAGS: no clash with other CLIs
    preview.define_flags(flag_values)
    flag_values(["preview", *args])
    preview.main([], flag_values=flag_values)


def test_preview_writes_the_grid(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), structured_image(60, 80))
    cv2.imwrite(str(folder / "b.jpg"), random_image(50, 50))
    (folder / "notes.txt").write_text("not an image")
    single = tmp_path / "c.bmp"
    cv2.imwrite(str(single), structured_image(40, 40)[..., 0])  # grayscale

    out = tmp_path / "out" / "grid.png"
    run_preview(f"--images={folder}", f"--images={single}", f"--out={out}", "--size=48")
    grid = cv2.imread(str(out))
    # 3 images in rows; Original / Max-RGB / Shades of Gray / Ben Graham in columns.
    assert grid.shape == (preview.HEADER + 3 * 48, 4 * 48, 3)
    # The first tile is the resized original; the Ben Graham tile is centred on gray.
    original = grid[preview.HEADER : preview.HEADER + 48, :48]
    assert original.std() > 10
    ben = grid[preview.HEADER : preview.HEADER + 48, 3 * 48 :]
    assert abs(np.median(ben) - 128) < 30

    out2 = tmp_path / "two.png"
    run_preview(
        f"--images={single},{folder / 'a.png'}",
        "--preprocessing=ben_graham",
        f"--out={out2}",
        "--size=32",
    )
    assert cv2.imread(str(out2)).shape == (preview.HEADER + 2 * 32, 2 * 32, 3)


def test_preview_rejects_bad_flags(tmp_path):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), random_image(20, 20))
    with pytest.raises(ValueError, match="Received: preprocessing="):
        run_preview(
            f"--images={image}", "--preprocessing=clahe", f"--out={tmp_path / 'g.png'}"
        )
    with pytest.raises(ValueError, match="Received: images="):
        run_preview(
            f"--images={tmp_path / 'missing.png'}", f"--out={tmp_path / 'g.png'}"
        )


def test_preview_skips_images_outside_the_size_limits(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), structured_image(40, 40))
    cv2.imwrite(str(folder / "thin.png"), structured_image(80, 2))
    hostile_files.write_black_png(folder / "huge.png", 16000, 16000)
    out = tmp_path / "grid.png"
    run_preview(f"--images={folder}", f"--out={out}", "--size=32")
    assert cv2.imread(str(out)).shape == (preview.HEADER + 32, 4 * 32, 3)  # a.png
    err = capsys.readouterr().err
    assert f"Skipping {folder / 'huge.png'}: 16000x16000 = 256000000 pixels" in err
    assert f"Skipping {folder / 'thin.png'}: 2x80 pixels, a side under" in err
    # The limits are flags; nothing left is an error that names the images.
    run_preview(f"--images={folder}", f"--out={out}", "--size=32", "--min_side=2")
    assert cv2.imread(str(out)).shape == (preview.HEADER + 2 * 32, 4 * 32, 3)
    with pytest.raises(ValueError, match="Received: images="):
        run_preview(f"--images={folder / 'thin.png'}", f"--out={out}")


def test_preview_skips_files_that_do_not_decode(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), structured_image(40, 40))
    (folder / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = tmp_path / "grid.png"
    run_preview(f"--images={folder}", f"--out={out}", "--size=32")
    assert cv2.imread(str(out)).shape == (preview.HEADER + 32, 4 * 32, 3)  # a.png
    err = capsys.readouterr().err
    for name in ("noise.jpg", "cut.jpg"):
        assert f"Skipping {folder / name}: not a readable JPEG/PNG/BMP/GIF" in err
    assert "(1 images × 4 columns" in err
    with pytest.raises(ValueError, match="None of the images decodes. Received"):
        run_preview(f"--images={folder / 'noise.jpg'}", f"--out={out}")
