"""ARL inside both models: each block joins [shortcut, residual] in that order.

At alpha = 0 ARL is a plain sum and the order of its inputs cannot matter, so
the comparisons with keras.applications (test_resnet.py, test_efficientnet.py)
cannot see a swapped wiring. Here every alpha is nonzero, the block's shortcut
and residual are located by the layers that produce them (not by ARL's own
inputs), and each ARL output is checked against the numpy reference.
"""

import keras
import numpy as np
import pytest

from skinkeras.models import arl_layers, efficientnet_b0, resnet50
from tests.layers.test_arl import numpy_arl
from tests.models.helpers import random_images, randomize_statistics

SIZE = 64  # the last ARL blocks of both models then see 2×2 maps


def _source(tensor):
    return tensor._keras_history.operation.name


def _resnet_ends(model, block):
    """(shortcut, residual) tensors of a bottleneck, from their own layers."""
    if block.endswith("_block1"):
        shortcut = model.get_layer(f"{block}_0_bn").output  # projection shortcut
    else:
        shortcut = model.get_layer(f"{block}_1_conv").input  # the block's input
    return shortcut, model.get_layer(f"{block}_3_bn").output


def _effnet_ends(model, block):
    """(shortcut, residual) tensors of an identity-skip MBConv block."""
    shortcut = model.get_layer(f"{block}_expand_conv").input  # the block's input
    return shortcut, model.get_layer(f"{block}_drop").output  # after drop-connect


CASES = {
    "resnet50": (
        lambda: resnet50(
            weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
        ),
        _resnet_ends,
        16,
        True,
    ),
    "effnet": (
        lambda: efficientnet_b0(
            weights=None, include_top=False, arl=True, input_shape=(SIZE, SIZE, 3)
        ),
        _effnet_ends,
        9,
        False,
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def built(request):
    build, ends, count, relu = CASES[request.param]
    model = randomize_statistics(build())
    layers = arl_layers(model)
    assert len(layers) == count
    # Nonzero, distinct alphas of both signs. The attention term is alpha times a
    # softmax over H·W positions (~1/256 on 16×16 maps), so alphas of a few units
    # make the swap visible far above float32 round-off.
    alphas = [(4.0 + 0.25 * i) * (-1) ** i for i in range(count)]
    for layer, alpha in zip(layers, alphas, strict=True):
        layer.alpha.assign(alpha)
    blocks = [layer.name.removesuffix("_arl") for layer in layers]
    return model, layers, alphas, [ends(model, b) for b in blocks], relu


def test_inputs_are_shortcut_then_residual(built):
    _, layers, _, ends, _ = built
    for layer, (shortcut, residual) in zip(layers, ends, strict=True):
        node = layer._inbound_nodes[0]
        assert len(node.input_tensors) == 2, layer.name
        assert node.input_tensors[0] is shortcut, (
            layer.name,
            _source(node.input_tensors[0]),
        )
        assert node.input_tensors[1] is residual, (
            layer.name,
            _source(node.input_tensors[1]),
        )


def test_outputs_match_numpy_on_each_blocks_own_inputs(built):
    model, layers, alphas, ends, relu = built
    outputs = []
    for layer, (shortcut, residual) in zip(layers, ends, strict=True):
        outputs += [shortcut, residual, layer.output]
    probe = keras.Model(model.input, outputs)
    values = [keras.ops.convert_to_numpy(v) for v in probe(random_images(SIZE))]
    for i, (layer, alpha) in enumerate(zip(layers, alphas, strict=True)):
        shortcut, residual, actual = values[3 * i : 3 * i + 3]
        expected = numpy_arl(shortcut, residual, alpha)
        if relu:  # ResNet-50: the block's ReLU is fused into ARL (SPEC)
            expected = np.maximum(expected, 0.0)
        swapped = numpy_arl(residual, shortcut, alpha)
        if relu:
            swapped = np.maximum(swapped, 0.0)
        scale = np.abs(expected).max()
        # The test can tell the two orders apart on this block ...
        assert np.abs(swapped - expected).max() > 1e-3 * scale, layer.name
        # ... and the layer computes the documented one.
        np.testing.assert_allclose(
            actual, expected, rtol=1e-4, atol=1e-5 * scale, err_msg=layer.name
        )
