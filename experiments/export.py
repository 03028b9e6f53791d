r"""Exports a trained run: a self-contained .keras, a SavedModel, TFLite or ONNX.

    python -m experiments.export --model_dir=runs/effnet_se_arl/seed_0 \
        --format=keras|saved_model|tflite|onnx [--quantize=dynamic] [--out=PATH]

Keras: the pipeline model (`skinkeras.models.pipeline`): uint8 RGB images of any one
size in; resize + centre crop, the run's preprocessing, the network, softmax with the
calibrated temperature and the decision at the calibrated threshold inside; load with
`skinkeras.load_model(PATH)` or, after `import skinkeras`, `keras.models.load_model`.

SavedModel: the `serving_default` signature takes a batch of encoded JPEG/PNG bytes
(`images`, string (B,)) and does decoding, resize + centre crop and the run's
preprocessing inside; it returns `melanoma_probability` (B,) and `probabilities`
(B, classes). TFLite: input `images`, float32 (1, S, S, 3), the image already resized
(shorter side to S) and centre-cropped, RGB 0..255 — TFLite's builtin ops cannot decode
images; preprocessing, normalisation and softmax are inside. `--quantize=dynamic`
stores int8 weights (dynamic-range quantisation). See `skinkeras.inference.export`.

A run trained with patient metadata (`experiments.main --metadata`) exports with
`age`, `sex` and `site` inputs beside the image in every format, and its model card
names them (docs/deployment.md, "Patient metadata").

Default `--out`: `<model_dir>/export/model.keras`, `.../saved_model`,
`.../model.tflite`, `.../model_int8.tflite` or `.../model.onnx`. Lesion-masked runs
are refused (the mask needs the separate segmenter). A multi-seed `--model_dir` needs `--seed`.
"""

import pathlib

from absl import flags

from experiments import common_flags, deploy_cli

FLAGS = flags.FlagValues()
common_flags.define_run_flags(
    FLAGS, module=__name__, seed_help="With a multi-seed --model_dir: export seed_<k>."
)
flags.DEFINE_enum(
    "format",
    "saved_model",
    ["keras", "saved_model", "tflite", "onnx"],
    "Export format (keras: the self-contained pipeline model; onnx needs the `onnx` "
    "extra, `pip install skinkeras[onnx]`).",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "quantize",
    None,
    ["dynamic"],
    "TFLite only: dynamic-range quantisation (int8 weights, float activations).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "out", None, "Output directory (SavedModel) or file (TFLite).", flag_values=FLAGS
)
flags.mark_flags_as_required(["model_dir"], flag_values=FLAGS)


def default_out(run, export_format, quantize):
    directory = run.model_dir / "export"
    if export_format == "saved_model":
        return directory / "saved_model"
    if export_format == "tflite":
        return directory / ("model_int8.tflite" if quantize else "model.tflite")
    return directory / f"model.{export_format}"


def write_model_card(run, out):
    """``MODEL_CARD.md`` beside the export (issue 15, item 7): the run's use, data,
    preprocessing, architecture, and the calibration the exported model applies."""
    from skinkeras import model_card
    from skinkeras.inference import pipeline
    from skinkeras.models import pipeline as model_pipeline

    calibration = pipeline.read_calibration(pipeline.seed_directory(run))
    if calibration == model_pipeline.DEFAULT_CALIBRATION:  # no calibration.json
        calibration = None
    return model_card.write(
        pathlib.Path(out).parent / model_card.MODEL_CARD,
        run.config,
        calibration=calibration,
        title=f"{run.model_dir} (seed {run.seeds[0]})",
    )


def size_of(path):
    path = pathlib.Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main(argv):
    from skinkeras import inference
    from skinkeras.inference import export

    if len(argv) > 1:
        raise SystemExit(f"error: unexpected arguments {argv[1:]}.")
    if FLAGS.quantize and FLAGS.format != "tflite":
        raise SystemExit(
            f"error: --quantize applies to --format=tflite. Received: "
            f"--format={FLAGS.format}"
        )
    try:
        run = inference.load_run(FLAGS.model_dir, seed=FLAGS.seed)
        run.model  # noqa: B018 -- raises for an ensemble: export one seed
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    out = pathlib.Path(FLAGS.out or default_out(run, FLAGS.format, FLAGS.quantize))
    writers = {
        "keras": export.export_keras,
        "saved_model": export.export_saved_model,
        "tflite": lambda run, out: export.export_tflite(
            run, out, quantize=FLAGS.quantize
        ),
        "onnx": export.export_onnx,
    }
    try:
        writers[FLAGS.format](run, out)
    except (ValueError, export.OnnxExportError) as error:
        # e.g. a lesion-mask run (no masks for files), ONNX without its extra
        raise SystemExit(f"error: {error}") from None
    card = write_model_card(run, out)
    print(f"Wrote {out} ({size_of(out) / 2**20:.2f} MiB) and {card}")
    return 0


cli = deploy_cli.console_script(main, FLAGS)

if __name__ == "__main__":
    cli()
