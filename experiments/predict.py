r"""Predicts melanoma on image files with a trained run; writes a CSV.

    python -m experiments.predict --model_dir=runs/effnet_se_arl/seed_0 \
        --output=pred.csv [--tta=8] [--gradcam_dir=cams/] [--format=isic] \
        [--metadata=ISIC_2019_Test_Metadata.csv] IMAGE_OR_FOLDER...

`--model_dir` is a seed directory (`model.keras`, `config.json`) or a multi-seed
directory (`seed_<k>/`): all its seeds are then averaged (an ensemble of their
probabilities) unless `--seed` picks one. Each image goes through the run's training
preprocessing (decode → resize + centre crop → `config.json`'s `preprocessing`).
Folders are searched recursively for .jpg/.jpeg/.png/.bmp/.gif files. A run
calibrated by `experiments.evaluate --calibrate` (its `calibration.json`) gets
temperature-scaled probabilities and, in the default format, a `decision` column (1
melanoma at the stored operating point, 0 not).

A run trained with patient metadata (`experiments.main --metadata`) needs
`--metadata=CSV`, the images' metadata CSV (`experiments.patient_flags`): each image
gets the age, sex and anatomic site of its row, and whatever is missing is unknown to
the model; a line says how many images had no row and how many values were unknown.

Before decoding, each file's width and height are read from its header: a file with
more than `--max_pixels` pixels or a side under `--min_side` is skipped, as is a file
that cannot be read or decoded; the others are predicted. The run ends with one line
(`N predicted, M skipped`) and writes the skipped files with the reason to
`<output stem>.skipped.csv` beside the output (`path,reason`; always written, a header
only when nothing was skipped, so no file of an earlier run is left to mislead).

Exit status: 0 every file predicted; 1 some files skipped (both CSVs written) or an
error before predicting (a message, no CSV); 2 a bad flag.
"""

import csv
import logging
import pathlib

import numpy as np
from absl import flags

from experiments import common_flags, deploy_cli, patient_flags

FLAGS = flags.FlagValues()
common_flags.define_run_flags(
    FLAGS,
    module=__name__,
    seed_help="With a multi-seed --model_dir: use seed_<k> only.",
)
flags.DEFINE_string("output", None, "CSV file to write.", flag_values=FLAGS)
flags.DEFINE_enum(
    "format",
    "default",
    ["default", "isic", "isic2017", "isic2019", "isic2020"],
    "default: image_id,melanoma_probability,predicted_class. isic: image + one "
    "probability column per class (melanoma,other | melanoma,nevus,"
    "seborrheic_keratosis), read by `isic-challenge-scoring classification`. "
    "isic2017: image_id,melanoma,seborrheic_keratosis (ISIC 2017 Part 3). "
    "isic2019: image,MEL,NV,BCC,AK,BKL,DF,VASC,SCC,UNK (ISIC 2019 Task 1; a "
    "--label=diagnosis model). isic2020: image_name,target (melanoma probability).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "tta",
    1,
    "Test-time augmentation: average over this many of the 8 flips/90° rotations "
    "(1 none, 2 +h-flip, 4 +v-flip/180°, 8 all).",
    lower_bound=1,
    upper_bound=8,
    flag_values=FLAGS,
)
common_flags.define_image_limit_flags(FLAGS, module=__name__)
flags.DEFINE_integer(
    "batch_size", 16, "Images per model call.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_string(
    "gradcam_dir",
    None,
    "If set, write a Grad-CAM overlay PNG per image here (<image_id>.png).",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "gradcam_class",
    "predicted",
    ["predicted", "melanoma"],
    "Class whose Grad-CAM is drawn: the predicted one or always melanoma.",
    flag_values=FLAGS,
)
patient_flags.define_metadata_flag(FLAGS, module=__name__)
flags.mark_flags_as_required(["model_dir", "output"], flag_values=FLAGS)
POSITIONAL = [
    (
        "IMAGE_OR_FOLDER...",
        "Image files, and folders searched recursively for "
        ".jpg/.jpeg/.png/.bmp/.gif files.",
    )
]


def skipped_csv_path(output):
    """`pred.csv` → `pred.skipped.csv`, beside it."""
    output = pathlib.Path(output)
    return output.with_name(f"{output.stem}.skipped.csv")


def write_skipped_csv(path, failures):
    """`path,reason`: one row per skipped file."""
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "reason"])
        writer.writerows(failures)


def gradcam_writer(run, directory, *, melanoma_only=False):
    """`on_batch` callback of `predict_files` writing Grad-CAM overlays as PNGs.

    With an ensemble, the heatmap is the mean of the seeds' heatmaps (same
    architecture, so same feature-map grid).
    """
    import tensorflow as tf

    from skinkeras import gradcam
    from skinkeras.metrics import melanoma_index

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    def write(ids, resized, inputs, probabilities):
        if melanoma_only:
            class_index = melanoma_index(run.class_names)
        else:
            class_index = [int(c) for c in np.argmax(probabilities, axis=-1)]
        heatmaps = np.mean(
            [
                gradcam.gradcam(model, inputs, class_index=class_index)
                for model in run.models
            ],
            axis=0,
        )
        for key, image, heatmap in zip(ids, resized, heatmaps, strict=True):
            png = tf.io.encode_png(gradcam.overlay(image, heatmap))
            tf.io.write_file(str(directory / f"{key}.png"), png)

    return write


def main(argv):
    from skinkeras import inference, metrics

    inputs = argv[1:]
    if not inputs:
        raise SystemExit("error: give at least one image file or folder to predict.")
    try:
        paths = inference.list_images(inputs)
        inference.check_unique_ids(paths)
        run = inference.load_run(FLAGS.model_dir, seed=FLAGS.seed)
        # Issue 15: the temperature and operating point chosen on validation data.
        calibration = inference.read_calibration(FLAGS.model_dir, FLAGS.seed)
        metadata = patient_flags.read_metadata(run, FLAGS.metadata)
        if metadata is not None and FLAGS.gradcam_dir:
            raise ValueError(
                "--gradcam_dir draws the image's part of a model's decision, and "
                "does not take patient metadata yet. Received: "
                f"gradcam_dir={FLAGS.gradcam_dir}, metadata={FLAGS.metadata}"
            )
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    if not paths:
        raise SystemExit(f"error: no image files in {inputs}.")
    logging.info(
        "%d image(s); model %s, seeds %s, %d px, preprocessing %s, tta %d",
        len(paths),
        run.model_dir,
        list(run.seeds),
        run.image_size,
        run.preprocessing,
        FLAGS.tta,
    )
    on_batch = None
    if FLAGS.gradcam_dir:
        on_batch = gradcam_writer(
            run, FLAGS.gradcam_dir, melanoma_only=FLAGS.gradcam_class == "melanoma"
        )
    try:
        predictions = inference.predict_files(
            run,
            paths,
            tta=FLAGS.tta,
            batch_size=FLAGS.batch_size,
            progress=len(paths) > 1,
            on_batch=on_batch,
            max_pixels=FLAGS.max_pixels,
            min_side=FLAGS.min_side,
            metadata=metadata,
        )
    except ValueError as error:  # e.g. a lesion-mask run: no masks for files
        raise SystemExit(f"error: {error}") from None
    probabilities, decisions = inference.apply_calibration(
        predictions.probabilities,
        calibration,
        melanoma=metrics.melanoma_index(run.class_names),
    )
    inference.write_predictions_csv(
        FLAGS.output,
        predictions.image_ids,
        probabilities,
        run.class_names,
        format=FLAGS.format,
        decisions=decisions if FLAGS.format == "default" else None,
    )
    skipped_csv = skipped_csv_path(FLAGS.output)
    write_skipped_csv(skipped_csv, predictions.failures)
    if metadata is not None:
        print(metadata.summary(predictions.image_ids))
    # Each skipped file was logged with its reason as it was met (predict_files).
    print(
        f"{len(predictions.image_ids)} predicted, {len(predictions.failures)} "
        f"skipped: predictions in {FLAGS.output}, skipped files in {skipped_csv}"
    )
    return 1 if predictions.failures else 0


cli = deploy_cli.console_script(main, FLAGS, positional=POSITIONAL)

if __name__ == "__main__":
    cli()
