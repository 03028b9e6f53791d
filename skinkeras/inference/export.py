"""Export of a trained run: a self-contained `.keras`, TensorFlow SavedModel, TFLite.

Every format is built from the run's pipeline model
(`skinkeras.inference.pipeline.from_run`: resize and centre crop, the run's
preprocessing, the network, softmax with the calibrated temperature, and the
decision at the calibrated threshold, all Keras layers). Lesion-masked runs are
refused (the mask needs the separate segmenter).

**Keras** (`export_keras`): the pipeline as a `.keras` file; `import skinkeras`, then
`keras.models.load_model` (or `skinkeras.load_model`) in any process. Input uint8
(B, H, W, 3) RGB of any one size; outputs `probabilities` float32 (B, classes) and
`decision` int32 (B,).

**SavedModel** (`export_saved_model`), two signatures:
- `serving_default`: `images` — a batch of encoded JPEG/PNG/BMP/GIF files, string
  (B,) — decoded inside (`skinkeras.data.decode_image`), then resized, cropped and preprocessed by the pipeline's layers (training's path),
  returns `melanoma_probability` float32 (B,), `probabilities` float32 (B, classes)
  and `decision` int32 (B,).
- `serve_images`: `images` float32 (B, S, S, 3), RGB 0..255 already resized and
  centre-cropped (no preprocessing yet), same outputs. Same input as the TFLite model.

**TFLite** (`export_tflite`): TFLite's builtin ops cannot decode JPEG/PNG (that needs
the Flex delegate, i.e. TensorFlow on the phone), so its input is the resized and
centre-cropped image, float32 (1, S, S, 3) in 0..255, one image per call — the app
decodes and resizes (shorter side to S, centre crop) with its platform's image API;
the run's preprocessing, the model's normalisation, the softmax with its temperature
and the decision are inside.
Outputs as above. `quantize="dynamic"` gives dynamic-range quantisation: int8 weights;
activations stay float32 between ops and are quantised on the fly inside the hybrid
kernels (no calibration data needed).

**Patient metadata** (issue 26): the export of a run trained with metadata takes,
after `images` in every signature and in the ONNX graph, `age` float32 (B,) in years,
`sex` and `site` int32 (B,) indices into the run's vocabulary (`PATIENT`; -1, or a
negative / NaN age, unknown: `skinkeras.models.pipeline`); TFLite's are (1,).

**ONNX** (`export_onnx`, needs the `onnx` extra: tf2onnx, onnx, onnxruntime): Keras'
`Model.export(format="onnx")` (tf2onnx) of the pipeline from the resized image on,
input `images` float32 (B, S, S, 3) as TFLite's (any batch), outputs as above. Three
pieces do not convert as they run in TensorFlow:
- the resize: tf2onnx maps TensorFlow's `ResizeArea` (our antialiased shrinking) to
  ONNX `Resize` with mode "nearest" (ONNX has no area mode), silently: different
  numbers (max |Δ probability| 0.011 on a tiny model). So the image is resized
  outside, as for TFLite.
- the XLA-fused ARL kernel (`skinkeras.layers._fusion`): each fused piece is a
  `tf.function(jit_compile=True)`, which tf2onnx keeps as a `PartitionedCall` node
  that ONNX does not have. The conversion therefore runs in a child process with
  `SKINKERAS_XLA_FUSION=0` (the same ops, unfused).
- Keras' `Normalization` (every EfficientNet's stem): its cached mean and variance
  would become inputs of the ONNX graph; the conversion makes them constants.
"""

import os
import pathlib
import subprocess
import sys
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from skinkeras import data
from skinkeras.inference import pipeline as pipeline_lib
from skinkeras.models import pipeline as model_pipeline

QUANTIZE_MODES = (None, "dynamic")
# A metadata model's inputs besides `images`, in signature order, with their dtypes
# (`skinkeras.models.pipeline`: age in years, sex and site vocabulary indices; -1
# unknown).
PATIENT = {"age": tf.float32, "sex": tf.int32, "site": tf.int32}
ONNX_EXTRA = "pip install 'skinkeras[onnx]' (tf2onnx, onnx, onnxruntime)"


class OnnxExportError(RuntimeError):
    """The ONNX export cannot run (no converter) or gave an unusable graph."""


def _pipeline(run_or_model):
    if isinstance(run_or_model, keras.Model):
        return run_or_model
    return pipeline_lib.from_run(run_or_model)  # one seed; no lesion masking


def _patient_specs(model, batch_size):
    """The patient inputs of a metadata pipeline's signatures (module doc), in
    `PATIENT` order; none for an image-only pipeline."""
    if model_pipeline.pipeline_metadata(model)["metadata_encoding"] is None:
        return []
    return [tf.TensorSpec((batch_size,), PATIENT[name], name=name) for name in PATIENT]


def _archive(run, *, with_bytes=True, batch_size=None):
    model = _pipeline(run)
    size = model_pipeline.pipeline_metadata(model)["image_size"]
    patient = _patient_specs(model, batch_size)

    def outputs(x, patient_values):
        # Image-only: no patient values, no metadata.
        metadata = None
        if patient_values:
            metadata = dict(zip(PATIENT, patient_values, strict=True))
        return model_pipeline.outputs_from_network_input(model, x, metadata)

    def serve_bytes(encoded, *patient_values):
        # Files differ in size: each is decoded, resized and preprocessed alone.
        images = tf.map_fn(
            lambda data_: model_pipeline.network_input(
                model, data.decode_image(data_)[tf.newaxis]
            )[0],
            encoded,
            fn_output_signature=tf.TensorSpec((size, size, 3), tf.float32),
        )
        return outputs(images, patient_values)

    def serve_images(images, *patient_values):
        # Already resized to S×S; batched preprocessing, no map_fn (TFLite While).
        x = model_pipeline.network_input(model, images, resized=True)
        return outputs(x, patient_values)

    archive = keras.export.ExportArchive()
    archive.track(model)
    if with_bytes:
        archive.add_endpoint(
            "serving_default",
            serve_bytes,
            input_signature=[
                tf.TensorSpec((None,), tf.string, name="images"),
                *_patient_specs(model, None),
            ],
        )
    archive.add_endpoint(
        "serve_images",
        serve_images,
        input_signature=[
            tf.TensorSpec((batch_size, size, size, 3), tf.float32, name="images"),
            *patient,
        ],
    )
    return archive


def export_keras(run, path):
    """Writes the pipeline of a one-seed `Run` as a `.keras` file (module doc).

    Returns:
        `pathlib.Path` of the file.
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(
            f"A Keras model file must end in `.keras`. Received: path={path}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _pipeline(run).save(path)
    return path


def export_saved_model(run, path):
    """Writes a SavedModel of a one-seed `Run` (signatures in the module doc).

    Returns:
        `pathlib.Path` of the SavedModel directory.
    """
    path = pathlib.Path(path)
    _archive(run).write_out(str(path), verbose=False)
    return path


def tflite_bytes(run, *, quantize=None):
    """The TFLite flatbuffer of a one-seed `Run` (input/outputs in the module doc)."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(
            f"`quantize` must be one of {QUANTIZE_MODES}. Received: quantize={quantize}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        # Via a SavedModel: the converter then sees the variables as constants and
        # the signature keeps its input/output names.
        # Batch 1: every shape is then static, which TFLite's builtins need (the
        # preprocessing maps read tf.shape(images), e.g. Ben Graham's blur matrices).
        _archive(run, with_bytes=False, batch_size=1).write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            tmp, signature_keys=["serve_images"]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()


def export_tflite(run, path, *, quantize=None):
    """Writes the TFLite model of a one-seed `Run` to the file `path`."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tflite_bytes(run, quantize=quantize))
    return path


def _interpreter_class():
    """LiteRT's interpreter (`ai-edge-litert`) if installed, else `tf.lite`'s."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = _TFLiteInterpreter
    return Interpreter


def _TFLiteInterpreter(**kwargs):
    # tf.lite.Interpreter warns that it moved to ai-edge-litert (same runtime).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return tf.lite.Interpreter(**kwargs)


class TFLiteModel:
    """Runs an exported TFLite model like `skinkeras.inference.Predictor` (for tests, benchmarks).

    Args:
        path_or_bytes: the `.tflite` file or its content.
        num_threads: interpreter threads.
    """

    def __init__(self, path_or_bytes, *, num_threads=None):
        if isinstance(path_or_bytes, bytes):
            content = path_or_bytes
        else:
            content = pathlib.Path(path_or_bytes).read_bytes()
        self.interpreter = _interpreter_class()(
            model_content=content, num_threads=num_threads
        )
        self.runner = self.interpreter.get_signature_runner("serve_images")

    def __call__(self, images, **metadata):
        """`images`: float (B, S, S, 3) resized 0..255 → dict of numpy outputs.

        A metadata model also takes `age`, `sex` and `site` (each (B,); module
        doc). The model takes one image per call (batch 1); a batch runs image by
        image.
        """
        images = np.asarray(images, np.float32)
        metadata = {
            name: np.asarray(metadata[name], PATIENT[name].as_numpy_dtype)
            for name in metadata
        }
        outputs = [
            self.runner(
                images=image[np.newaxis],
                **{name: values[i : i + 1] for name, values in metadata.items()},
            )
            for i, image in enumerate(images)
        ]
        return {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}


def _serving_model(model, *, batch_size=None):
    """The pipeline from the resized image on: float32 (B, S, S, 3) [and a metadata
    model's `age`, `sex`, `site`] → outputs."""
    size = model_pipeline.pipeline_metadata(model)["image_size"]
    images = keras.Input((size, size, 3), batch_size=batch_size, name="images")
    patient = {
        spec.name: keras.Input((), batch_size, spec.dtype.name, name=spec.name)
        for spec in _patient_specs(model, batch_size)
    }
    x = model_pipeline.network_input(model, images, resized=True)
    outputs = model_pipeline.outputs_from_network_input(model, x, patient or None)
    inputs = [images, *patient.values()] if patient else images
    return keras.Model(inputs, outputs, name="skinkeras_serving")


def _check_onnx_graph(path):
    """Raises `OnnxExportError` naming the nodes that are not ONNX operators.

    tf2onnx only logs a TensorFlow op it cannot convert and leaves it in the graph,
    which then fails to load in any runtime.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    foreign = sorted(
        {
            (node.op_type, node.name)
            for node in graph.node
            if not onnx.defs.has(node.op_type, node.domain or "")
        }
    )
    if not foreign:
        return
    calls = [name for op, name in foreign if op.endswith("PartitionedCall")]
    why = (
        " `PartitionedCall` nodes are XLA-compiled functions, i.e. the fused ARL "
        "kernel (skinkeras.layers._fusion): export with SKINKERAS_XLA_FUSION=0."
        if calls
        else ""
    )
    raise OnnxExportError(
        f"tf2onnx could not convert these TensorFlow ops, so {path} is not a valid "
        f"ONNX model.{why} Received: unconverted={foreign[:5]}"
    )


def _normalization_as_constants(model):
    """Keras' `Normalization` (EfficientNet's stem `normalization`) caches its mean and
    variance as tensors, which a traced function captures; tf2onnx makes every
    captured tensor but a variable an input of the ONNX graph, one no caller feeds
    ("Required inputs ... normalization/Sub/y:0"). As numpy arrays (the same values)
    they are constants of the graph."""
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Normalization) and layer.mean is not None:
            layer.mean = keras.ops.convert_to_numpy(layer.mean)
            layer.variance = keras.ops.convert_to_numpy(layer.variance)


def _export_onnx_here(model, path):
    """The conversion itself (in a process where the XLA fusion is off)."""
    _normalization_as_constants(model)
    serving = _serving_model(model)
    size = model_pipeline.pipeline_metadata(model)["image_size"]
    spec = keras.InputSpec(shape=(None, size, size, 3), dtype="float32", name="images")
    patient = [
        keras.InputSpec(shape=(None,), dtype=tensor.dtype.name, name=tensor.name)
        for tensor in _patient_specs(model, None)
    ]
    signature = [[spec, *patient]] if patient else [spec]
    serving.export(str(path), format="onnx", verbose=False, input_signature=signature)
    _check_onnx_graph(path)


def _require_onnx():
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise OnnxExportError(
            f"The ONNX export needs tf2onnx and onnx: {ONNX_EXTRA}. "
            f"Received: {type(error).__name__}: {error}"
        ) from None


def export_onnx(run, path):
    """Writes the ONNX model of a one-seed `Run` to the file `path` (module doc).

    Raises:
        OnnxExportError: tf2onnx/onnx are not installed, or the graph has ops that
            ONNX lacks (named in the message).
    """
    from skinkeras.layers import _fusion

    _require_onnx()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _pipeline(run)
    if not _fusion.fusion_enabled():
        _export_onnx_here(model, path)
        return path
    # The fused ARL kernel is compiled when skinkeras.layers is imported: only a new
    # process can load the model without it (module doc).
    with tempfile.TemporaryDirectory() as tmp:
        keras_path = export_keras(model, pathlib.Path(tmp) / "pipeline.keras")
        code = (
            "import sys, keras, skinkeras\n"
            "from skinkeras.inference import export\n"
            "model = keras.models.load_model(sys.argv[1], compile=False)\n"
            "try:\n"
            "    export._export_onnx_here(model, sys.argv[2])\n"
            "except export.OnnxExportError as error:\n"
            "    sys.exit(f'OnnxExportError: {error}')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(keras_path), str(path)],
            env={**os.environ, _fusion.ENV_VAR: "0"},
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["(no output)"]
        message = next(
            (line for line in reversed(lines) if line.startswith("OnnxExportError")),
            lines[-1],
        )
        raise OnnxExportError(
            f"The ONNX conversion failed: {message.removeprefix('OnnxExportError: ')}"
        )
    return path
