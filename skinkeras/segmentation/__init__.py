"""Lesion segmentation for experiment 1: overlap metrics, U-Net training, mask cache."""
