"""Export of a trained run for serving: TensorFlow SavedModel and TFLite.

**SavedModel** (`export_saved_model`), two signatures:
- `serving_default`: `images` — a batch of encoded JPEG/PNG/BMP/GIF files, string
  (B,) — decoded, resized and preprocessed inside with the run's own pure-TF maps
  (`skinkeras.inference.transforms.bytes_transform`, i.e. training's path), returns
  `melanoma_probability` float32 (B,) and `probabilities` float32 (B, classes).
- `serve_images`: `images` float32 (B, S, S, 3), RGB 0..255 already resized and
  centre-cropped (no preprocessing yet), same outputs. Same input as the TFLite model.

**TFLite** (`export_tflite`): TFLite's builtin ops cannot decode JPEG/PNG (that needs
the Flex delegate, i.e. TensorFlow on the phone), so its input is the resized and
centre-cropped image, float32 (1, S, S, 3) in 0..255, one image per call — the app
decodes and resizes (shorter side to S, centre crop) with its platform's image API;
the run's preprocessing, the model's normalisation and the softmax are inside.
Outputs as above. `quantize="dynamic"` gives dynamic-range quantisation: int8 weights;
activations stay float32 between ops and are quantised on the fly inside the hybrid
kernels (no calibration data needed).
"""

import pathlib
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from skinkeras import data
from skinkeras.inference.transforms import bytes_transform
from skinkeras.metrics import MELANOMA

QUANTIZE_MODES = (None, "dynamic")


def _outputs(model, images):
    probabilities = tf.nn.softmax(model(images, training=False), axis=-1)
    return {
        "melanoma_probability": probabilities[:, MELANOMA],
        "probabilities": probabilities,
    }


def _archive(run, *, with_bytes=True, batch_size=None):
    model = run.model  # raises for an ensemble: one seed per exported model
    size = run.image_size
    from_bytes = bytes_transform(image_size=size, preprocessing=run.preprocessing)
    preprocess = data.preprocess(run.preprocessing)  # takes batches too

    def serve_bytes(encoded):
        images = tf.map_fn(
            lambda data: from_bytes(data)[1],
            encoded,
            fn_output_signature=tf.TensorSpec((size, size, 3), tf.float32),
        )
        return _outputs(model, images)

    def serve_images(images):
        # Already resized to S×S; batched preprocessing, no map_fn (TFLite While).
        return _outputs(model, data.round_pixels(preprocess(images)))

    archive = keras.export.ExportArchive()
    archive.track(model)
    if with_bytes:
        archive.add_endpoint(
            "serving_default",
            serve_bytes,
            input_signature=[tf.TensorSpec((None,), tf.string, name="images")],
        )
    archive.add_endpoint(
        "serve_images",
        serve_images,
        input_signature=[
            tf.TensorSpec((batch_size, size, size, 3), tf.float32, name="images")
        ],
    )
    return archive


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

    def __call__(self, images):
        """`images`: float (B, S, S, 3) resized 0..255 → dict of numpy outputs.

        The model takes one image per call (batch 1); a batch runs image by image.
        """
        images = np.asarray(images, np.float32)
        outputs = [self.runner(images=image[np.newaxis]) for image in images]
        return {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}
