"""`--metadata=CSV` of experiments.predict and evaluate, and experiments.export, for
a run trained with patient metadata (issue 26, part 2): the commands' probabilities
against the network's logits through a NumPy softmax on training's pixels with the
CSV's values written out by hand; the summary's counts; the refusals."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from experiments import evaluate, export, predict
from skinkeras import inference
from skinkeras.inference import pipeline
from tests import deploy_fixtures as fx
from tests.experiments.test_predict import read_rows, run_cli
from tests.inference.helpers import softmax_of, training_path_images

SIZES = [(40, 50), (32, 32), (80, 36), (36, 44)]
# ISIC 2019's metadata columns. fx.ENCODING: sex female, male; site anterior torso,
# head/neck, lower extremity. Image 3 has no row; image 2's site is not the run's.
CSV = (
    "image,age_approx,anatom_site_general,lesion_id,sex\n"
    "{0},35.0,head/neck,L0,female\n"
    "{1},,lower extremity,L1,MALE\n"
    "{2},75.0,palms/soles,L2,unknown\n"
)
AGE = np.array([35.0, -1.0, 75.0, -1.0], np.float32)
SEX = np.array([0, 1, -1, -1], np.int32)
SITE = np.array([1, 2, -1, -1], np.int32)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("metadata_cli")
    run_dir = fx.tiny_run(tmp_path / "run", metadata=fx.ENCODING)
    paths = sorted(fx.write_image_files(tmp_path / "images", SIZES, seed=5))
    metadata = tmp_path / "metadata.csv"
    metadata.write_text(CSV.format(*(p.stem for p in paths)))
    images = training_path_images(paths, image_size=32, preprocessing="none")
    network = inference.load_run(run_dir).model
    inputs = {"image": images, "age": AGE, "sex": SEX, "site": SITE}
    return {
        "tmp_path": tmp_path,
        "run_dir": run_dir,
        "paths": paths,
        "images": tmp_path / "images",
        "metadata": metadata,
        "expected": softmax_of(network, inputs),
    }


def test_predict_reads_the_csv_and_says_what_is_unknown(case, tmp_path, capsys):
    output = tmp_path / "pred.csv"
    status = run_cli(
        predict,
        f"--model_dir={case['run_dir']}",
        f"--output={output}",
        f"--metadata={case['metadata']}",
        case["images"],
    )
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2] == (
        f"Patient metadata from {case['metadata']}: 4 image(s), 1 without a row; "
        "unknown to the model: age 2, sex 2, site 2. Not in the model's site "
        "names: 'palms/soles' 1."
    )
    rows = read_rows(output)
    assert [row["image_id"] for row in rows] == [p.stem for p in case["paths"]]
    np.testing.assert_allclose(
        [float(row["melanoma_probability"]) for row in rows],
        case["expected"][:, 1],
        atol=1e-5,
    )


def test_predict_refusals_name_the_flag(case, tmp_path):
    common = [f"--output={tmp_path / 'p.csv'}", case["images"]]
    message = run_cli(predict, f"--model_dir={case['run_dir']}", *common)
    assert "trained with patient metadata" in message
    assert "give --metadata=CSV" in message
    plain = fx.tiny_run(tmp_path / "plain")
    message = run_cli(
        predict, f"--model_dir={plain}", f"--metadata={case['metadata']}", *common
    )
    assert "trained on images only (drop --metadata)" in message
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("name,age_approx\nx,50\n")
    message = run_cli(
        predict, f"--model_dir={case['run_dir']}", f"--metadata={no_id}", *common
    )
    assert f"{no_id} has no image id column" in message
    message = run_cli(
        predict,
        f"--model_dir={case['run_dir']}",
        f"--metadata={case['metadata']}",
        f"--gradcam_dir={tmp_path / 'cams'}",
        *common,
    )
    assert "--gradcam_dir" in message and "does not take patient metadata" in message
    assert not (tmp_path / "p.csv").exists()


def test_evaluate_images_and_truth_with_the_csv(case, tmp_path, capsys):
    # Labels that follow the reference probability: the AUROC is sklearn's of it.
    p = case["expected"][:, 1]
    y = (p >= np.median(p)).astype(int)
    truth = fx.write_truth(tmp_path / "truth.csv", [x.stem for x in case["paths"]], y)
    common = [
        f"--model_dir={case['run_dir']}",
        f"--images={case['images']}",
        f"--truth={truth}",
    ]
    out = tmp_path / "metrics.json"
    status = run_cli(
        evaluate,
        *common,
        f"--metadata={case['metadata']}",
        f"--output={out}",
        "--bootstrap=20",
    )
    assert status == 0
    assert "4 image(s), 1 without a row" in capsys.readouterr().out
    found = json.loads(out.read_text())
    assert found["auroc"]["point"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-9)
    assert found["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-6)
    assert "give --metadata=CSV" in run_cli(evaluate, *common)
    message = run_cli(
        evaluate, f"--model_dir={case['run_dir']}", f"--metadata={case['metadata']}"
    )
    assert "--metadata is the metadata CSV of --images" in message


def test_export_keeps_the_inputs_and_the_card_names_them(case, tmp_path, capsys):
    out = tmp_path / "model.keras"
    args = [f"--model_dir={case['run_dir']}", "--format=keras", f"--out={out}"]
    assert run_cli(export, *args) == 0
    assert "Wrote" in capsys.readouterr().out
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "sex (female, male), anatomic site (anterior torso, head/neck, " in card
    model = pipeline.load_model(out)
    assert sorted(model.input) == ["age", "image", "sex", "site"]
