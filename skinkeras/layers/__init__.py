"""Keras layers of the study: ARL, spatial softmax, Squeeze & Excitation, the
patient metadata encoding (issue 26), and the preprocessing, calibration and
decision layers of a self-contained model.

All are written with `keras.ops` only (they run on every Keras backend) and are
registered as Keras serializable under the package name "skinkeras", so a saved
`.keras` model loads after `import skinkeras.layers` (or `import skinkeras.models`).
The preprocessing layers' modules (`resize_crop`, `color_constancy`, `ben_graham`) also
hold the functions that compute them, which `skinkeras.data`'s tf.data maps call too.
"""

from skinkeras.layers.arl import AttentionResidual
from skinkeras.layers.ben_graham import BenGraham
from skinkeras.layers.caffe_preprocess import CaffePreprocess
from skinkeras.layers.color_constancy import ColorConstancy
from skinkeras.layers.metadata_encoding import METADATA_INPUTS, MetadataEncoding
from skinkeras.layers.resize_crop import ResizeAndCenterCrop
from skinkeras.layers.round_pixels import RoundPixels
from skinkeras.layers.spatial_softmax import SpatialSoftmax, spatial_softmax
from skinkeras.layers.squeeze_excite import SqueezeExcite
from skinkeras.layers.temperature_softmax import TemperatureSoftmax
from skinkeras.layers.threshold_decision import ThresholdDecision

__all__ = [
    "AttentionResidual",
    "BenGraham",
    "CaffePreprocess",
    "ColorConstancy",
    "METADATA_INPUTS",
    "MetadataEncoding",
    "ResizeAndCenterCrop",
    "RoundPixels",
    "SpatialSoftmax",
    "SqueezeExcite",
    "TemperatureSoftmax",
    "ThresholdDecision",
    "spatial_softmax",
]
