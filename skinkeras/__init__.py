"""skinkeras: preprocessing and attention (ARL, SE) for melanoma classification.

Subpackages:
    skinkeras.layers    Keras layers (ARL, spatial softmax, Squeeze & Excitation).
    skinkeras.models    ResNet-50 / EfficientNet-B0 with ARL and SE, U-Net, heads.
    skinkeras.data      tf.data preprocessing maps and the training pipeline.
    skinkeras.training  one-cycle schedule, callbacks, metrics, run(config).
    skinkeras.gradcam   Grad-CAM heatmaps and overlays.
"""

# Importing the layers registers them with Keras, so that `keras.models.load_model`
# reads a saved skinkeras model after a bare `import skinkeras`.
from skinkeras import layers  # noqa: F401

__version__ = "0.1.0"
