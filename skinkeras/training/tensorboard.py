"""TensorBoard event files of a run, written without the `tensorboard` package.

TensorFlow only ships the low-level `tf.summary.write`; the high-level summary ops
come from TensorBoard. `write_scalar` and `write_images` write the same records
TensorBoard's scalar and image summaries do, so training does not depend on
TensorBoard — only viewing the logs does (SPEC: TensorBoard reads what training
writes: scalars, ARL alphas, images).
"""

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

VALIDATION_SCALARS = ("loss", "accuracy", "auroc", "sensitivity", "specificity")
MULTICLASS_SCALARS = (
    "balanced_accuracy",
    "macro_auroc",
)  # `metrics.MULTICLASS_METRICS`


def _metadata(plugin_name, data_class):
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name),
        data_class=data_class,
    )


def write_scalar(name, value, *, step):
    """`tf.summary.scalar`'s record: plugin "scalars", a float32 scalar tensor."""
    return tf.summary.write(
        name,
        tf.cast(value, tf.float32),
        step=step,
        metadata=_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR),
    )


def write_images(name, images, *, step, max_outputs=4):
    """`tf.summary.image`'s record (plugin "images").

    ``images``: (B, H, W, 3) floats in 0..1. The tensor is TensorBoard's layout:
    ``[width, height, png_1, ..., png_k]`` as strings.
    """
    images = tf.image.convert_image_dtype(images[:max_outputs], tf.uint8, saturate=True)
    shape = tf.shape(images)
    dimensions = tf.stack([tf.as_string(shape[2]), tf.as_string(shape[1])])
    encoded = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    return tf.summary.write(
        name,
        tf.concat([dimensions, encoded], axis=0),
        step=step,
        metadata=_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE),
    )


class EpochSummaries:
    """The classifier's event files: scalars per epoch, ARL alphas, input images.

    Scalars (step = epoch over both stages): ``train/loss``, ``train/accuracy``,
    ``validation/{loss,accuracy,auroc,sensitivity,specificity}`` (with more than two
    classes also ``validation/{balanced_accuracy,macro_auroc,auroc_<class>}``),
    ``optimizer/learning_rate``, ``optimizer/beta_1``, ``arl_alpha/<layer name>``.
    Images: ``inputs/train`` at step 0, the run's first training batch (0..255 pixels
    shown as 0..1), written with the first epoch's record: ``images`` is a function
    that returns it, called then, when the data pipeline has cached the split.

    `open` and `close` bracket one ``fit``; `write` takes one epoch's record (see
    `callbacks.EpochRecorder`).
    """

    def __init__(self, log_dir, *, images=None, max_images=4):
        self.log_dir = str(log_dir)
        self.images = images
        self.max_images = max_images
        self.writer = None

    def open(self):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def _write_images(self):
        images = self.images()
        with self.writer.as_default():
            write_images(
                "inputs/train",
                tf.clip_by_value(tf.cast(images, tf.float32) / 255.0, 0, 1),
                step=0,
                max_outputs=self.max_images,
            )

    def write(self, record):
        step = record["epoch"]
        if self.images is not None and step == 1:
            self._write_images()
        scalars = {
            "train/loss": record["loss"],
            "train/accuracy": record["accuracy"],
            "optimizer/learning_rate": record["lr"],
            "optimizer/beta_1": record["beta_1"],
        }
        for name in VALIDATION_SCALARS:
            scalars[f"validation/{name}"] = record[f"val_{name}"]
        for key, value in record.items():  # more than two classes (issue 16)
            name = key.removeprefix("val_")
            if name in MULTICLASS_SCALARS or name.startswith("auroc_"):
                scalars[f"validation/{name}"] = value
        for name, alpha in record["alphas"].items():
            scalars[f"arl_alpha/{name}"] = alpha
        with self.writer.as_default():
            for name, value in scalars.items():
                write_scalar(name, value, step=step)
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
