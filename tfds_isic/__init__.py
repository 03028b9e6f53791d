"""TensorFlow Datasets builders for the ISIC archives; importing registers them."""
