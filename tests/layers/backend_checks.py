"""Checks run in a fresh interpreter under another Keras backend (torch, JAX).

Not a test module: tests/layers/test_torch_backend.py and test_jax_backend.py run
`python -c "from tests.layers.backend_checks import ...; ..."` with KERAS_BACKEND
set, because Keras fixes its backend at import. Every check compares with the
numpy references of the layer tests; only Keras' own training step differentiates,
so the gradients are those of the backend's automatic differentiation.
"""

import keras
import numpy as np

import skinkeras.layers as skl
from tests.layers.test_arl import _numeric_gradient, numpy_arl
from tests.layers.test_pipeline_layers import numpy_ben_graham, numpy_color_constancy
from tests.layers.test_spatial_softmax import numpy_spatial_softmax
from tests.layers.test_squeeze_excite import numpy_squeeze_excite


def _c(x):
    return keras.ops.convert_to_numpy(x)


def check_backend(name):
    assert keras.backend.backend() == name, keras.backend.backend()


def check_layers():
    """Each layer's forward pass against its numpy reference."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
    f = rng.normal(0, 2, size=(2, 8, 8, 16)).astype("float32")
    np.testing.assert_allclose(
        _c(skl.SpatialSoftmax()(f)), numpy_spatial_softmax(f), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        _c(skl.AttentionResidual(alpha_initializer=0.4)([x, f])),
        numpy_arl(x, f, 0.4),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        _c(skl.AttentionResidual(alpha_initializer=0.4, activation="relu")([x, f])),
        np.maximum(numpy_arl(x, f, 0.4), 0),
        rtol=1e-5,
        atol=1e-5,
    )
    se = skl.SqueezeExcite(4)
    se.build(x.shape)
    w1, b1, w2, b2 = se.get_weights()
    np.testing.assert_allclose(
        _c(se(x)),
        numpy_squeeze_excite(x, w1[0, 0], b1, w2[0, 0], b2),
        rtol=1e-5,
        atol=1e-6,
    )
    rgb = rng.uniform(0, 255, size=(1, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(
        _c(skl.CaffePreprocess()(rgb))[..., 0], rgb[..., 2] - 103.939, atol=1e-4
    )
    # The metadata encoding (issue 26): its own numpy reference, unknowns included.
    from tests.layers import test_metadata_encoding as meta

    encoding = skl.MetadataEncoding(meta.AGE_RANGE, meta.SEXES, meta.SITES)
    np.testing.assert_allclose(
        _c(encoding({"age": meta.AGE, "sex": meta.SEX, "site": meta.SITE})),
        meta.numpy_encoding(meta.AGE, meta.SEX, meta.SITE),
        atol=1e-6,
    )


def check_preprocessing_layers():
    """The preprocessing layers, whose `keras.ops` functions skinkeras.data's maps
    share, against their numpy / OpenCV references; the maps themselves need the
    TensorFlow backend and say so."""
    import cv2
    import pytest

    import skinkeras.data

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, size=(2, 16, 24, 3)).astype("float32")
    for method, p in (("max_rgb", 6), ("shades_of_gray", 6), ("shades_of_gray", 2.5)):
        np.testing.assert_allclose(
            _c(skl.ColorConstancy(method, p=p)(x)),
            numpy_color_constancy(x, method, p),
            atol=1e-3,
        )
    np.testing.assert_allclose(
        _c(skl.BenGraham()(x)), numpy_ben_graham(x, 1.6), atol=1e-3
    )
    # Enlarging only: Keras has an "area" resize on TensorFlow alone.
    small = x[:1, :12, :16]
    reference = cv2.resize(small[0, :, 2:14], (32, 32), interpolation=cv2.INTER_LINEAR)
    out = _c(skl.ResizeAndCenterCrop(32)(small))[0]
    np.testing.assert_allclose(out, reference, atol=1e-3)
    backend = keras.backend.backend()
    with pytest.raises(RuntimeError, match=f"TensorFlow backend.*'{backend}'"):
        skinkeras.data.color_constancy(x[0])


class ArlOfWeights(keras.Model):
    """ARL applied to two trainable weights (the batch input is ignored): one SGD
    step with learning rate 1 moves every weight by minus its gradient."""

    def __init__(self, shortcut, residual, *, alpha, activation):
        super().__init__(name="arl_of_weights")
        self.arl = skl.AttentionResidual(alpha_initializer=alpha, activation=activation)
        self.shortcut = self.add_weight(shape=shortcut.shape, name="shortcut")
        self.residual = self.add_weight(shape=residual.shape, name="residual")
        self.shortcut.assign(shortcut)
        self.residual.assign(residual)

    def call(self, inputs):
        return self.arl([self.shortcut, self.residual])


def check_arl_gradients():
    """d/dx, d/dF and d/dalpha of sum(w * ARL) through Keras' training step, against
    central differences of the numpy reference (with and without the fused ReLU)."""
    rng = np.random.default_rng(5)
    shortcut = rng.normal(size=(2, 3, 4, 2)).astype("float32")
    residual = rng.normal(0, 2, size=(2, 3, 4, 2)).astype("float32")
    weights = rng.normal(size=shortcut.shape).astype("float32")
    alpha = 0.7
    # Central differences are only valid away from ReLU's kink.
    assert np.abs(numpy_arl(shortcut, residual, alpha)).min() > 1e-3
    for activation, act in ((None, lambda z: z), ("relu", lambda z: np.maximum(z, 0))):
        model = ArlOfWeights(shortcut, residual, alpha=alpha, activation=activation)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=1.0),
            loss=lambda w, y: keras.ops.sum(w * y),
        )
        model.train_on_batch(np.zeros((2, 1), "float32"), weights)

        def loss_of(x_=shortcut, f_=residual, a_=alpha, act=act):
            return float(np.sum(act(numpy_arl(x_, f_, a_)) * weights))

        expected = {
            "shortcut": _numeric_gradient(lambda v: loss_of(x_=v), shortcut),
            "residual": _numeric_gradient(lambda v: loss_of(f_=v), residual),
            "alpha": _numeric_gradient(lambda v: loss_of(a_=float(v)), alpha),
        }
        actual = {
            "shortcut": shortcut - _c(model.shortcut),
            "residual": residual - _c(model.residual),
            "alpha": alpha - float(_c(model.arl.alpha)),
        }
        for key, value in expected.items():
            np.testing.assert_allclose(
                actual[key], value, rtol=1e-4, atol=1e-5, err_msg=f"{activation} {key}"
            )


def check_training_step():
    """A compiled training step through ARL moves alpha by the numpy gradient."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 16)).astype("float32")
    f = rng.normal(0, 2, size=(2, 8, 8, 16)).astype("float32")
    a, b = keras.Input((8, 8, 16)), keras.Input((8, 8, 16))
    arl = skl.AttentionResidual(alpha_initializer=0.1)
    model = keras.Model([a, b], arl([a, b]))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.train_on_batch([x, f], np.zeros_like(x))
    # SGD step with the numpy gradient of mean(y^2): 2 y * softmax(F) * x.
    grad = np.mean(2 * numpy_arl(x, f, 0.1) * numpy_spatial_softmax(f) * x)
    np.testing.assert_allclose(float(_c(arl.alpha)), 0.1 - 0.5 * grad, rtol=1e-4)


MODEL_SIZE = 32  # the smallest input both models take


def build_models():
    """Both models with ARL (EfficientNet-B0 also with SE), as on any backend."""
    from skinkeras.models import build_model

    return {
        name: build_model(
            name, arl=True, weights=None, input_shape=(MODEL_SIZE, MODEL_SIZE, 3)
        )
        for name in ("resnet50", "effnet")
    }


def model_images():
    rng = np.random.default_rng(1)
    return rng.uniform(0, 255, (2, MODEL_SIZE, MODEL_SIZE, 3)).astype("float32")


def write_models(out_dir):
    """Builds both models, gives them nonzero alphas and non-trivial BatchNorm
    statistics, and writes their weights and inference logits to `out_dir`."""
    import pathlib

    from skinkeras.models import arl_layers
    from tests.models.helpers import randomize_statistics

    out_dir = pathlib.Path(out_dir)
    # A fixed initialisation, so that every run compares the same networks: an
    # unseeded one made the JAX-TensorFlow difference vary from run to run.
    keras.utils.set_random_seed(0)
    for name, model in build_models().items():
        randomize_statistics(model)
        for i, layer in enumerate(arl_layers(model)):
            layer.alpha.assign(0.5 + 0.1 * i)
        model.save_weights(out_dir / f"{name}.weights.h5")
        # predict() compiles the whole model once: far quicker on JAX than eager
        # calls, which compile every op for its shapes.
        np.save(out_dir / f"{name}.npy", model.predict(model_images(), verbose=0))
