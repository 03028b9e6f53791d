"""Experiment scripts (absl flags) that drive the skinkeras library."""
