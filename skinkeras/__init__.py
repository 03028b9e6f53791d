"""skinkeras: preprocessing and attention (ARL, SE) for melanoma classification.

Subpackages:
    skinkeras.layers    Keras layers (ARL, spatial softmax, Squeeze & Excitation).
    skinkeras.models    ResNet-50 / EfficientNet-B0 with ARL and SE, U-Net, heads.
    skinkeras.data      tf.data preprocessing maps and the training pipeline.
    skinkeras.training  one-cycle schedule, callbacks, metrics, run(config).
    skinkeras.gradcam   Grad-CAM heatmaps and overlays.
"""

__version__ = "0.1.0"
