"""`mixed_precision` and `jit_compile` reach the train step that `run(config)` runs.

A finite loss says nothing about either: a run that ignored them trains as well.
A probe layer records, while the train step is traced, the dtype of the tensors
flowing through the model and whether the step is being compiled by XLA. Every
model built under a mixed policy computes in half precision, with float32 logits.
"""

import keras
import pytest
import tensorflow as tf

# The XLA context that `tf.function(jit_compile=True)` enters while tracing; no
# public API tells a traced function whether it is being compiled.
from tensorflow.python.ops import control_flow_util

from skinkeras import models
from skinkeras.training import loop
from tests.models.helpers import model_params
from tests.training import helpers

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
# One builder per family: the default suite builds the study's models, ResNet-26 and
# each family's smallest new size (2-3 s each here); the larger sizes are `slow`.
FAST_BUILDS = ("resnet50", "effnet", "effnet_b0", "resnet26", "resnet101", "effnet_b1")


@keras.saving.register_keras_serializable(package="tests")
class StepProbe(keras.layers.Layer):
    """Identity that records (dtype, under XLA) each time a train step is traced.

    The records go to a class-level list: `run` saves a copy of the model made from
    its config, so the layer's config holds nothing but Keras' own arguments.
    """

    records = []

    def call(self, x, training=None):
        if training:
            graph = tf.compat.v1.get_default_graph()
            StepProbe.records.append(
                (
                    keras.backend.standardize_dtype(x.dtype),
                    control_flow_util.GraphOrParentsInXlaContext(graph),
                )
            )
        return x


class CompiledModel(keras.callbacks.Callback):
    """What `fit` was given: the model's dtype policy and `jit_compile`."""

    def on_train_begin(self, logs=None):
        self.policy = self.model.dtype_policy.name
        self.jit_compile = self.model.jit_compile


@pytest.fixture
def probed(monkeypatch):
    """`run` builds the loop tests' tiny backbone (conv, BN, ARL), then the probe
    and a float32 head (as skinkeras.models.heads: float32 logits)."""
    StepProbe.records.clear()

    def model_from_config(config):
        base = helpers.tiny_model(config)
        x = StepProbe(name="probe")(base.get_layer("block1_arl").output)
        x = keras.layers.GlobalAveragePooling2D(name="head_avg_pool")(x)
        outputs = keras.layers.Dense(
            config.num_classes, dtype="float32", name="head_logits"
        )(x)
        return keras.Model(base.input, outputs, name="probed")

    monkeypatch.setattr(loop, "model_from_config", model_from_config)
    yield StepProbe.records
    StepProbe.records.clear()


def _half():
    # Keras' advice, as `experiments.main --help` says: float16 on GPU, bfloat16 on
    # CPU and TPU.
    return "float16" if tf.config.list_logical_devices("GPU") else "bfloat16"


@pytest.mark.parametrize(
    ("mixed_precision", "jit_compile"), [(True, True), (False, False)]
)
def test_train_step_uses_the_configured_dtype_and_compiler(
    probed, tmp_path, mixed_precision, jit_compile
):
    config = helpers.config(
        tmp_path,
        head_epochs=0,
        epochs=1,
        mixed_precision=mixed_precision,
        jit_compile=jit_compile,
    )
    compiled = CompiledModel()
    loop.run(config, sources=helpers.sources(), callbacks=[compiled])
    compute = _half() if mixed_precision else "float32"
    assert probed, "the train step was never traced"
    assert set(probed) == {(compute, jit_compile)}
    assert compiled.policy == (f"mixed_{compute}" if mixed_precision else "float32")
    assert compiled.jit_compile is jit_compile
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards
    # model.keras, the pipeline saved under the policy: training's float32 pixels
    # around the network (issue 15, item 6).
    saved = keras.models.load_model(tmp_path / "run" / "model.keras")
    for name in ("resize_and_center_crop", "round_pixels", "probabilities"):
        assert saved.get_layer(name).dtype_policy.name == "float32", name
    conv = saved.get_layer("network").get_layer("conv1")
    assert conv.dtype_policy.name == compiled.policy  # the network's own policy


@pytest.mark.parametrize(
    "name", model_params(models.MODELS, slow=set(models.MODELS) - set(FAST_BUILDS))
)
def test_models_built_under_the_policy_compute_in_half_precision(tmp_path, name):
    config = helpers.config(tmp_path, model=name, arl=True, image_size=32)
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = loop.model_from_config(config)
    finally:
        keras.config.set_dtype_policy(previous)
    backbone = models.backbone_layers(model)
    convs = [layer for layer in backbone if isinstance(layer, CONVOLUTIONS)]
    arls = models.arl_layers(model)
    assert convs and len(arls) == models.ARCHITECTURES[name].arl_blocks
    for layer in [*convs, *arls]:
        assert layer.compute_dtype == "bfloat16", layer.name
        assert layer.variable_dtype == "float32", layer.name  # weights stay float32
    assert model.get_layer("head_logits").compute_dtype == "float32"
    logits = model(tf.zeros((1, 32, 32, 3)), training=False)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
