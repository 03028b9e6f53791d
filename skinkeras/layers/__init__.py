"""Keras layers of the study: ARL, spatial softmax, Squeeze & Excitation.

All are written with `keras.ops` only (they run on every Keras backend) and are
registered as Keras serializable under the package name "skinkeras", so a saved
`.keras` model loads after `import skinkeras.layers` (or `import skinkeras.models`).
"""

from skinkeras.layers.arl import AttentionResidual
from skinkeras.layers.caffe_preprocess import CaffePreprocess
from skinkeras.layers.spatial_softmax import SpatialSoftmax, spatial_softmax
from skinkeras.layers.squeeze_excite import SqueezeExcite

__all__ = [
    "AttentionResidual",
    "CaffePreprocess",
    "SpatialSoftmax",
    "SqueezeExcite",
    "spatial_softmax",
]
