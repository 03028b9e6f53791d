"""skinkeras.inference.predict: batched prediction of image files, bad files skipped."""

import pathlib
import shutil

import numpy as np
import pytest

from skinkeras import inference
from tests import deploy_fixtures as fx
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
