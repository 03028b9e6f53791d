"""Installs skinkeras, its experiment scripts and the ISIC TFDS builders."""

import pathlib

import setuptools

HERE = pathlib.Path(__file__).parent

# Namespace discovery also lists the builders' dummy_data/ folders (data only, but
# importable names): listed as packages, setuptools ships them without warning that
# they "would be ignored".
PACKAGES = setuptools.find_namespace_packages(
    include=["skinkeras*", "experiments*", "tfds_isic*"],
    exclude=["*__pycache__*"],
)

ONNX = ["tf2onnx>=1.16", "onnx>=1.16", "onnxruntime>=1.18"]

setuptools.setup(
    name="skinkeras",
    version="0.1.0",
    description=(
        "Preprocessing and attention (ARL, Squeeze & Excitation) for melanoma "
        "classification on ISIC, in TensorFlow/Keras 3."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=PACKAGES,
    # TFDS reads README.md, CITATIONS.bib, TAGS.txt, checksums.tsv and dummy_data/
    # from beside each builder, so they ship as package data.
    package_data={
        "tfds_isic": ["*/*.md", "*/*.bib", "*/*.txt", "*/*.tsv"],
        **{name: ["*"] for name in PACKAGES if ".dummy_data" in name},
    },
    include_package_data=True,
    entry_points={
        # Beside `python -m experiments.X`, which runs the same `cli()`.
        "console_scripts": [
            "skinkeras-train = experiments.main:cli",
            "skinkeras-suite = experiments.suite:cli",
            "skinkeras-summarize = experiments.summarize:cli",
            "skinkeras-predict = experiments.predict:cli",
            "skinkeras-evaluate = experiments.evaluate:cli",
            "skinkeras-export = experiments.export:cli",
            "skinkeras-segment = experiments.segment:cli",
            "skinkeras-preview = experiments.preview:cli",
            "skinkeras-gradcam = experiments.gradcam:cli",
            "skinkeras-make-masks = experiments.make_masks:cli",
            "skinkeras-plot-alphas = experiments.plot_alphas:cli",
        ],
    },
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.3,<4",
        "tensorflow-datasets>=4.9.6,<5",
        "opencv-python-headless>=4.8",
        "scikit-learn>=1.3",
        "scipy>=1.10",
        "absl-py>=1.4",
        "numpy>=1.26",
        "matplotlib>=3.7",
        "pillow>=10",
        "tqdm>=4.60",
        # The viewer for the event files training writes (`tensorboard --logdir`).
        "tensorboard>=2.16",
        # `tfds build` imports every CLI subcommand at start-up, which needs these
        # two although building never uses them (docs/development.md, "Dependencies").
        "apache-beam>=2.60",
        "mlcroissant>=1.0",
        # TFDS' download_and_prepare needs importlib_resources
        # (tensorflow/datasets#11212); tfds.testing needs dill.
        "importlib_resources>=6",
        "dill>=0.3",
    ],
    extras_require={
        # The ONNX export (`experiments.export --format=onnx`) and its check.
        "onnx": ONNX,
        # `--launcher=ray`: each (configuration, seed) a Ray task (issue 25); the
        # core package only (no dashboard). 2.60.0 has a CPython 3.11 wheel.
        "ray": ["ray==2.60.0"],
        # ONNX too, so that CI runs the ONNX export test.
        "test": ["pytest>=8", "pytest-xdist>=3.5", "ruff>=0.5", *ONNX],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
    ],
)
