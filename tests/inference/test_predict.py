"""skinkeras.inference.predict: batched prediction of image files, bad files skipped."""

import pathlib
import shutil

import numpy as np
import pytest

from skinkeras import inference
from tests import deploy_fixtures as fx
from tests import hostile_files
from tests.inference.helpers import softmax_of, training_path_images


def test_predict_files_skips_bad_files(tmp_path, caplog):
    run = inference.load_run(fx.tiny_run(tmp_path / "run" / "seed_0"))
    folder = tmp_path / "images"
    good = fx.write_image_files(
        folder, [(50, 70), (32, 32), (90, 40), (64, 64), (33, 80)]
    )
    (folder / "notes.jpg").write_text("not an image")
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(good[0].read_bytes()[:200])
    (folder / "sub").mkdir()
    shutil.copy(good[1], folder / "sub" / "ISIC_0000099.png")
    (folder / "sub" / "ISIC_0000099_superpixels.png").write_bytes(b"skipped")
    (folder / "labels.csv").write_text("image_id\n")
    text_file = tmp_path / "readme.txt"
    text_file.write_text("hello")

    paths = inference.list_images([folder, text_file])
    expected = sorted(
        good + [folder / "notes.jpg", truncated, folder / "sub/ISIC_0000099.png"]
    )
    assert paths == expected + [text_file]
    predictions = inference.predict_files(run, paths, batch_size=2)

    failed = {pathlib.Path(path).name for path, _ in predictions.failures}
    assert failed == {"notes.jpg", "truncated.jpg", "readme.txt"}
    for name in failed:
        assert name in caplog.text
    good_paths = sorted([*good, folder / "sub" / "ISIC_0000099.png"])
    assert predictions.paths == [str(p) for p in good_paths]
    assert predictions.image_ids == [p.stem for p in good_paths]
    images = training_path_images(good_paths, image_size=32, preprocessing="none")
    np.testing.assert_allclose(
        predictions.probabilities, softmax_of(run.models[0], images), atol=1e-6
    )
    with pytest.raises(ValueError, match="ISIC_0000001"):
        inference.check_unique_ids([*good_paths, folder / "sub" / "ISIC_0000001.jpg"])


def test_predict_files_skips_images_outside_the_size_limits(tmp_path):
    run = inference.load_run(fx.tiny_run(tmp_path / "run" / "seed_0"))
    folder = tmp_path / "images"
    ok = fx.write_image_files(folder, [(32, 40), (50, 50)])
    # Issue 14: 1x1 and 2x80 were predicted without a word, 16000x16000 decoded.
    tiny = fx.write_image_files(folder / "tiny", [(1, 1), (80, 2), (31, 64)])
    hostile_files.write_black_png(folder / "huge.png", 16000, 16000)
    paths = inference.list_images([folder])
    predictions = inference.predict_files(run, paths, batch_size=2)
    assert predictions.paths == [str(p) for p in ok]
    assert dict(predictions.failures) == {
        str(folder / "huge.png"): (
            "16000x16000 = 256000000 pixels, more than max_pixels=100000000"
        ),
        str(tiny[0]): "1x1 pixels, a side under min_side=32",
        str(tiny[1]): "2x80 pixels, a side under min_side=32",
        str(tiny[2]): "64x31 pixels, a side under min_side=32",
    }
    images = training_path_images(ok, image_size=32, preprocessing="none")
    np.testing.assert_allclose(
        predictions.probabilities, softmax_of(run.models[0], images), atol=1e-6
    )

    # Other limits: the 31-pixel side passes, 50x50 is too large.
    predictions = inference.predict_files(
        run, [*ok, tiny[2]], max_pixels=2500 - 1, min_side=31
    )
    assert predictions.paths == [str(ok[0]), str(tiny[2])]
    assert predictions.failures == [
        (str(ok[1]), "50x50 = 2500 pixels, more than max_pixels=2499")
    ]
    with pytest.raises(ValueError, match="Received: min_side=0"):
        inference.predict_files(run, ok, min_side=0)
