"""Mutations as proof: deliberate breakages that the named tests must catch.

Each `Mutation` replaces one exact source snippet (it must occur exactly once, so the
list cannot rot silently) in a fresh temporary copy of the repository, then runs the
named tests there with `PYTHONPATH` set to the copy, so that the mutated package is
imported rather than any installed one. A mutation is caught when every one of its
test entries (a file or a node id) fails (`pytest -x`); one that passes survives.
An unmutated baseline of all the entries runs first: if it fails, every mutation
would be "caught" trivially, so the run stops there. A fresh interpreter in the
baseline's copy must import skinkeras from that copy.

Runs are sequential. Each pytest runs in a fork of this process, which has imported
TensorFlow and Keras once (not skinkeras or the tests: the child imports those from
the copy, and checks afterwards that it did); `--fresh` runs `python -m pytest`
instead, the same runs at about 20 s more each on two busy cores.

    python -m tests.mutations                   # all, then a markdown table
    python -m tests.mutations --list            # the mutations, nothing run
    python -m tests.mutations --only one_cycle_pct_start,dice_factor_2

Exit status: 0 when every mutation run is caught; 1 when one survives (or its tests
time out); 2 when the list itself is broken (a target snippet missing or ambiguous,
a test path missing, an unknown name, a failing baseline, or the copy not imported).
`tests/test_mutations.py` runs it as a `slow` test.
"""

import argparse
import dataclasses
import importlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What a temporary copy holds: the package, the code its tests import, and pytest's
# configuration (`pytest.ini` makes the copy pytest's rootdir).
COPIED = (
    "skinkeras",
    "experiments",
    "tfds_isic",
    "tests",
    "benchmarks",
    "conftest.py",
    "pytest.ini",
)
TIMEOUT_S = 600
PYTEST = ("-q", "-p", "no:cacheprovider")


class BrokenList(Exception):
    """The list, its baseline or the copy is unusable: nothing it says would count."""


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One breakage: `old` (exactly once in `path`) becomes `new`.

    `tests`: test files or node ids, relative to the repository root; each must fail.
    """

    name: str
    path: str
    old: str
    new: str
    tests: tuple


def _m(name, path, old, new, *tests):
    return Mutation(name, path, old, new, tests)


ARL = "skinkeras/layers/_arl_kernel.py"
COLOR_CONSTANCY = "skinkeras/layers/color_constancy.py"
SCHEDULES = "skinkeras/training/schedules.py"
CONFIG = "skinkeras/config/__init__.py"  # a package since issue 23's size rule
AUGMENT = "skinkeras/data/augment.py"
SAMPLING = "skinkeras/data/sampling.py"

T_ARL = "tests/layers/test_arl.py::test_matches_numpy_reference"
T_PREPROCESSING = "tests/data/test_preprocessing.py"
T_LAYERS = "tests/layers/test_pipeline_layers.py"
T_SCHEDULES = "tests/training/test_schedules.py"
T_CONFIG = "tests/test_config.py::test_defaults_are_the_study_protocol"
T_STAGES = (
    "tests/training/test_stages.py"
    "::test_each_stage_trains_with_fastai_v1s_adamw_and_one_cycle"
)
T_AUGMENT = "tests/data/test_augment.py"
T_SAMPLING = "tests/data/test_sampling.py"

MUTATIONS = (
    # ARL wiring: the layer takes [shortcut, residual]; swapped, the attention
    # multiplies the residual instead of the shortcut (SPEC, ARL).
    _m(
        "arl_resnet_swap_inputs",
        "skinkeras/models/resnet.py",
        'AttentionResidual(activation="relu", name=f"{name}_arl")([shortcut, x])',
        'AttentionResidual(activation="relu", name=f"{name}_arl")([x, shortcut])',
        "tests/models/test_arl_wiring.py",
    ),
    _m(
        "arl_effnet_swap_inputs",
        "skinkeras/models/efficientnet.py",
        'AttentionResidual(name=f"{name}_arl")([inputs, x])',
        'AttentionResidual(name=f"{name}_arl")([x, inputs])',
        "tests/models/test_arl_wiring.py",
    ),
    # ARL formula: y = x + F + alpha * softmax_spatial(F) * x.
    _m(
        "arl_drop_x_factor",
        ARL,
        "y = shortcut + residual + shortcut * e * scale",
        "y = shortcut + residual + e * scale",
        T_ARL,
    ),
    _m(
        "arl_drop_alpha",
        ARL,
        "return inv_sum, alpha * inv_sum",
        "return inv_sum, inv_sum",
        T_ARL,
    ),
    _m(
        "arl_softmax_over_channels",
        ARL,
        "inv_sum = 1.0 / ops.sum(e, axis=(1, 2), keepdims=True)",
        "inv_sum = 1.0 / ops.sum(e, axis=-1, keepdims=True)",
        T_ARL,
    ),
    _m(
        "arl_gradient_of_shortcut",
        ARL,
        "d_shortcut = g * (1.0 + a)",
        "d_shortcut = g",
        "tests/layers/test_arl.py::test_gradients_match_finite_differences",
    ),
    _m(
        "spatial_softmax_over_channels",
        "skinkeras/layers/spatial_softmax.py",
        "out = e / ops.sum(e, axis=(1, 2), keepdims=True)",
        "out = e / ops.sum(e, axis=-1, keepdims=True)",
        "tests/layers/test_spatial_softmax.py",
    ),
    # SE: s = sigmoid(W2 · act(W1 · mean_ij u)).
    _m(
        "se_sigmoid_to_relu",
        "skinkeras/layers/squeeze_excite.py",
        'activation="sigmoid",',
        'activation="relu",',
        "tests/layers/test_squeeze_excite.py",
    ),
    _m(
        "se_mean_to_max",
        "skinkeras/layers/squeeze_excite.py",
        "z = ops.mean(inputs, axis=(1, 2), keepdims=True)",
        "z = ops.max(inputs, axis=(1, 2), keepdims=True)",
        "tests/layers/test_squeeze_excite.py",
    ),
    _m(
        "effnet_se_max_pool",
        "skinkeras/models/efficientnet.py",
        'keras.layers.GlobalAveragePooling2D(name=f"{name}_se_squeeze")',
        'keras.layers.GlobalMaxPooling2D(name=f"{name}_se_squeeze")',
        "tests/models/test_efficientnet.py::test_feature_maps_equal_keras_applications",
    ),
    # Colour constancy: e = max_x I (Max-RGB) or (mean_x I^p)^(1/p); I / (sqrt(3) e).
    # One implementation serves the tf.data maps and the layers: each break must
    # fail both routes' tests against numpy / OpenCV.
    _m(
        "max_rgb_max_to_mean",
        COLOR_CONSTANCY,
        "return _unit_norm(ops.max(images, axis=(-3, -2)))",
        "return _unit_norm(ops.mean(images, axis=(-3, -2)))",
        f"{T_PREPROCESSING}::test_max_rgb_matches_numpy",
        f"{T_LAYERS}::test_color_constancy_equals_training_and_numpy",
    ),
    _m(
        "shades_of_gray_p_ignored",
        COLOR_CONSTANCY,
        "e = shades_of_gray_illuminant(images, p=p)",
        "e = shades_of_gray_illuminant(images)",
        f"{T_PREPROCESSING}::test_shades_of_gray_matches_numpy",
        f"{T_LAYERS}::test_color_constancy_equals_training_and_numpy",
    ),
    _m(
        "color_constancy_no_sqrt3",
        COLOR_CONSTANCY,
        "corrected = ops.divide_no_nan(images, math.sqrt(3.0) * e)",
        "corrected = ops.divide_no_nan(images, e)",
        f"{T_PREPROCESSING}::test_max_rgb_matches_numpy",
        f"{T_LAYERS}::test_color_constancy_equals_training_and_numpy",
    ),
    # Ben Graham: SPEC, sigma = size / 10.
    _m(
        "ben_graham_sigma_size_over_5",
        "skinkeras/layers/ben_graham.py",
        "sigma = shorter / 10.0",
        "sigma = shorter / 5.0",
        f"{T_PREPROCESSING}::test_ben_graham_matches_opencv",
        f"{T_LAYERS}::test_ben_graham_equals_training_and_numpy",
    ),
    # Resizing: antialiased area averaging when shrinking (OpenCV's INTER_AREA).
    _m(
        "resize_area_to_bilinear",
        "skinkeras/layers/resize_crop.py",
        'interpolation = "area" if shrinking else "bilinear"',
        'interpolation = "bilinear"',
        T_PREPROCESSING,
        f"{T_LAYERS}::test_resize_and_center_crop_against_numpy_and_opencv",
    ),
    # One-cycle (fastai v1): pct_start 0.3, a1 = int(n * pct_start), moms 0.95/0.85.
    _m(
        "one_cycle_pct_start",
        SCHEDULES,
        "PCT_START = 0.3",
        "PCT_START = 0.25",
        f"{T_SCHEDULES}::test_learning_rate_matches_fastai_v1",
    ),
    _m(
        "one_cycle_warmup_rounded",
        SCHEDULES,
        "max(1, int(total_steps * pct_start))",
        "max(1, round(total_steps * pct_start))",
        f"{T_SCHEDULES}::test_learning_rate_matches_fastai_v1",
    ),
    _m(
        "beta_1_min",
        SCHEDULES,
        "BETA_1_MIN = 0.85",
        "BETA_1_MIN = 0.9",
        f"{T_SCHEDULES}::test_beta_1_matches_fastai_v1",
    ),
    # AdamW as fastai v1: wd 0.01, betas (0.9, 0.99), eps 1e-8.
    _m(
        "adamw_epsilon",
        CONFIG,
        "epsilon: float = 1e-8",
        "epsilon: float = 1e-7",
        T_CONFIG,
        T_STAGES,
    ),
    _m(
        "adamw_weight_decay",
        CONFIG,
        "weight_decay: float = 0.01",
        "weight_decay: float = 0.0",
        T_CONFIG,
        T_STAGES,
    ),
    _m(
        "adamw_beta_2",
        CONFIG,
        "beta_2: float = 0.99",
        "beta_2: float = 0.999",
        T_CONFIG,
        T_STAGES,
    ),
    # Augmentation: get_transforms(max_zoom=1.3, max_lighting=0.2), p_affine 0.75.
    _m(
        "augment_zoom_off",
        AUGMENT,
        '"zoom": _number(self.zoom, "zoom", low=0),',
        '"zoom": 0.0 * _number(self.zoom, "zoom", low=0),',
        T_AUGMENT,
    ),
    _m(
        "augment_brightness_10x_smaller",
        AUGMENT,
        "uniform([batch_size], 0.5 * (1.0 - light), 0.5 * (1.0 + light)),",
        "uniform([batch_size], 0.5 * (1.0 - light / 10), 0.5 * (1.0 + light / 10)),",
        T_AUGMENT,
    ),
    # One default for `augment` and `augment_parameters` (their `Transforms`).
    _m(
        "augment_p_affine_always",
        AUGMENT,
        "    p_affine: float = 0.75\n",
        "    p_affine: float = 1.0\n",
        T_AUGMENT,
    ),
    # Oversampling: fastai v1 draws num_classes × max count per epoch.
    _m(
        "oversampling_epoch_size_sum",
        SAMPLING,
        "int(counts.size * counts.max()) if oversample",
        "int(counts.sum()) if oversample",
        T_SAMPLING,
    ),
    _m(
        "oversampling_draws_sum",
        SAMPLING,
        "size = num_classes * tf.reduce_max(counts)",
        "size = tf.reduce_sum(counts)",
        T_SAMPLING,
    ),
    # Seeded epochs: epoch e's draw is a function of (seed, stage, e).
    _m(
        "epoch_key_ignores_epoch",
        SAMPLING,
        "stateless_fold_in(key, tf.cast(epoch, tf.int64))",
        "stateless_fold_in(key, tf.cast(0, tf.int64))",
        T_SAMPLING,
        "tests/data/test_pipeline.py"
        "::test_training_epochs_resume_exactly_and_decode_once",
    ),
    # AUROC of the melanoma probability (softmax column 1); sensitivity and
    # specificity are the melanoma class's recall and the other lesions' recall.
    _m(
        "auroc_wrong_class_column",
        "skinkeras/metrics.py",
        "return softmax(logits)[:, MELANOMA]",
        "return softmax(logits)[:, 0]",
        "tests/test_metrics.py",
    ),
    _m(
        "auroc_of_the_other_probability",
        "skinkeras/metrics.py",
        '"auroc": auroc(is_melanoma, probabilities[:, melanoma]),',
        '"auroc": auroc(is_melanoma, probabilities[:, 0]),',
        "tests/test_metrics.py::test_classification_metrics_match_sklearn",
    ),
    _m(
        "sensitivity_is_precision",
        "skinkeras/metrics.py",
        "return _rate(tp, tp + fn), _rate(tn, tn + fp)",
        "return _rate(tp, tp + fp), _rate(tn, tn + fp)",
        "tests/test_metrics.py",
    ),
    # Dice = 2|P ∩ T| / (|P| + |T|), metric and loss.
    _m(
        "dice_factor_2",
        "skinkeras/segmentation/metrics.py",
        "2.0 * intersection / ops.maximum(total, 1e-7)",
        "intersection / ops.maximum(total, 1e-7)",
        "tests/segmentation/test_metrics.py",
    ),
    _m(
        "dice_loss_factor_2",
        "skinkeras/segmentation/metrics.py",
        "(2.0 * intersection + smooth) / (total + smooth)",
        "(intersection + smooth) / (total + smooth)",
        "tests/segmentation/test_metrics.py::test_losses_against_numpy",
    ),
    # EpochEnd's order: an epoch counts as finished (checkpoint) only after its
    # TensorBoard summaries were written.
    _m(
        "epoch_end_checkpoint_before_summaries",
        "skinkeras/training/callbacks.py",
        "        self.summaries.write(record)\n        self.checkpoint.save(self.model, record)",
        "        self.checkpoint.save(self.model, record)\n        self.summaries.write(record)",
        "tests/training/test_loop.py"
        "::test_a_crash_while_writing_summaries_leaves_the_epoch_unfinished",
    ),
    # Results: a bootstrap 95 % interval.
    _m(
        "bootstrap_93_percent",
        "skinkeras/training/results.py",
        "samples=10_000, confidence=0.95, seed=0",
        "samples=10_000, confidence=0.93, seed=0",
        "tests/training/test_results.py",
    ),
    # TTA: the first N of the 8 symmetries of the square.
    _m(
        "tta_flip_up_down_is_left_right",
        "skinkeras/inference/transforms.py",
        '("flip_up_down", lambda x: tf.reverse(x, axis=[1])),',
        '("flip_up_down", lambda x: tf.reverse(x, axis=[2])),',
        "tests/inference/test_transforms.py::test_tta_averages_the_documented_views",
    ),
    # Patient metadata (issue 26): a NaN age is unknown, not NaN codes; a metadata
    # CSV's values are matched without surrounding spaces (and case).
    _m(
        "metadata_nan_age_passes_through",
        "skinkeras/layers/metadata_encoding.py",
        "age = ops.where(ops.isnan(age), -1.0, age)",
        "age = age",
        "tests/layers/test_metadata_encoding.py::test_nan_age_is_unknown",
    ),
    _m(
        "metadata_csv_keeps_spaces",
        "skinkeras/inference/patient.py",
        "    text = value.strip()",
        "    text = value",
        "tests/inference/test_patient.py"
        "::test_isic_2019_columns_and_every_kind_of_unknown",
    ),
)

# Mutations whose catching test lands with another branch. Each is skipped, with a
# note, until `marker` occurs in the test file (None: until the file exists); from
# then on it runs, and must be caught, like the rest.
PENDING = {
    "arl_resnet_swap_inputs": ("tests/models/test_arl_wiring.py", None),
    "arl_effnet_swap_inputs": ("tests/models/test_arl_wiring.py", None),
    "resize_area_to_bilinear": ("tests/data/test_preprocessing.py", "INTER_AREA"),
    "bootstrap_93_percent": ("tests/training/test_results.py", "0.93"),
}


def pending_reason(name, *, pending=PENDING, root=ROOT):
    """Why mutation `name` is skipped for now, or None when it runs."""
    if name not in pending:
        return None
    path, marker = pending[name]
    file = root / path
    if not file.is_file():
        return f"pending: {path} does not exist yet"
    if marker is not None and marker not in file.read_text():
        return f"pending: {path} does not contain {marker!r} yet"
    return None


def _test_file(entry):
    return entry.split("::", 1)[0]


def list_problems(mutations=MUTATIONS, *, pending=PENDING, root=ROOT):
    """Everything wrong with the list itself (empty when it is sound)."""
    problems = []
    names = [m.name for m in mutations]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: the name is used twice")
    for name in sorted(set(pending) - set(names)):
        problems.append(f"{name}: in PENDING but not a mutation")
    for m in mutations:
        source = root / m.path
        count = source.read_text().count(m.old) if source.is_file() else 0
        if count != 1:
            where = "missing" if count == 0 else f"found {count} times"
            problems.append(f"{m.name}: target text {where} in {m.path}: {m.old!r}")
        if m.old == m.new or not m.tests:
            problems.append(f"{m.name}: changes nothing or names no test")
        if pending_reason(m.name, pending=pending, root=root) is None:
            for entry in m.tests:
                file = root / _test_file(entry)
                if not file.is_file():
                    problems.append(f"{m.name}: no test file {_test_file(entry)}")
                elif "::" in entry:
                    # pytest exits 4 on a missing node id, and the whole run with it.
                    function = entry.split("::")[1].split("[")[0]
                    if f"def {function}(" not in file.read_text():
                        problems.append(f"{m.name}: no test {entry}")
    return problems


def make_copy(destination, mutation=None):
    """The repository's code and tests under `destination`, `mutation` applied."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                destination / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(source, destination / name)
    if mutation is not None:
        path = destination / mutation.path
        text = path.read_text()
        assert text.count(mutation.old) == 1, mutation.name
        path.write_text(text.replace(mutation.old, mutation.new))


def _environment(copy):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    return env


def run_python(copy, args, timeout=TIMEOUT_S):
    """`python *args` in a fresh interpreter in the copy; (returncode, output).

    The return code is None when it timed out.
    """
    try:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=copy,
            env=_environment(copy),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        out = error.stdout or b""
        return None, out.decode(errors="replace") if isinstance(out, bytes) else out
    return done.returncode, done.stdout + done.stderr


# Third-party modules a forked pytest finds already imported: importing TensorFlow
# alone takes 10 s of CPU (20 s and more on two busy cores), per mutation.
PRELOADED = ("tensorflow", "keras", "numpy", "scipy", "sklearn", "cv2", "pytest")
# Top-level names of the repository's code: always imported afresh from the copy.
OWN = ("skinkeras", "experiments", "tfds_isic", "tests", "benchmarks", "conftest")
NOT_THE_COPY = 86  # exit status of a forked run that imported code from elsewhere


def preload():
    # As the root conftest.py sets them before anything imports Keras.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _forked_child(copy, args, log):
    """In the forked child: pytest on the copy, then a check of what it imported."""
    os.setpgid(0, 0)  # its own process group, so that a timeout ends its children too
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    status = 70
    try:
        import pytest

        for name in [n for n in sys.modules if n.split(".")[0] in OWN]:
            del sys.modules[name]  # e.g. this script's own `tests` package
        os.chdir(copy)
        os.environ.update(_environment(copy))
        sys.path.insert(0, str(copy))
        status = int(pytest.main(list(args)))
        elsewhere = [
            f"{name}: {module.__file__}"
            for name, module in list(sys.modules.items())
            if name.split(".")[0] in OWN
            and getattr(module, "__file__", None)
            and not pathlib.Path(module.__file__).resolve().is_relative_to(copy)
        ]
        if elsewhere or "skinkeras" not in sys.modules:
            print("imported from outside the copy:", *elsewhere, sep="\n  ")
            status = NOT_THE_COPY
    except BaseException as error:  # report anything, then leave
        print(f"forked pytest failed: {error!r}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def run_pytest_forked(copy, args, timeout=TIMEOUT_S):
    """`pytest *args` in a fork of this (preloaded) process; (returncode, output).

    The same run as `python -m pytest *args` with cwd and PYTHONPATH the copy: the
    child drops every module of the repository's own packages and imports them
    from the copy, which it checks afterwards (else status `NOT_THE_COPY`).
    """
    copy = pathlib.Path(copy).resolve()
    with tempfile.TemporaryFile("w+") as log:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _forked_child(copy, args, log)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = None
                break
            time.sleep(0.1)
        log.seek(0)
        return code, log.read()


def run_pytest(copy, args, *, fresh):
    if fresh:
        return run_python(copy, ["-m", "pytest", *args])
    return run_pytest_forked(copy, args)


def start_probe(copy):
    """A fresh `python -c "import skinkeras ..."` in the copy, running meanwhile."""
    probe = "import skinkeras; print('skinkeras file:', skinkeras.__file__)"
    return subprocess.Popen(
        [sys.executable, "-c", probe],
        cwd=copy,
        env=_environment(copy),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def check_probe(probe, copy):
    """The copy's skinkeras is the one a plain interpreter imports there; its path."""
    out, _ = probe.communicate(timeout=300)
    found = re.search(r"^skinkeras file: (.+)$", out, flags=re.MULTILINE)
    imported = (
        pathlib.Path(found[1]).resolve() if probe.returncode == 0 and found else None
    )
    if imported is None or not imported.is_relative_to(copy.resolve()):
        raise BrokenList(
            f"error: the temporary copy {copy} does not import its own skinkeras "
            f"(got {imported}):\n{out}"
        )
    return imported


def failed_tests(output):
    """Node ids of the FAILED/ERROR lines of pytest's short summary."""
    return re.findall(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)


def _union(entries):
    """Entries without duplicates, node ids dropped when their whole file is listed."""
    unique = list(dict.fromkeys(entries))
    files = {e for e in unique if "::" not in e}
    return [e for e in unique if "::" not in e or _test_file(e) not in files]


def run_baseline(mutations, *, fresh):
    """The unmutated copy passes every entry (one pytest run); returns its seconds."""
    entries = _union(e for m in mutations for e in m.tests)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="skinkeras-baseline-") as tmp:
        copy = pathlib.Path(tmp)
        make_copy(copy)
        probe = start_probe(copy)
        if not fresh:
            preload()  # while the probe imports TensorFlow on the other core
        imported = check_probe(probe, copy)
        print(f"baseline: skinkeras imported from {imported}", file=sys.stderr)
        code, out = run_pytest(copy, [*PYTEST, "-x", *entries], fresh=fresh)
    if code != 0:
        raise BrokenList(
            f"error: the unmutated baseline fails (exit {code}); every mutation "
            f"would be caught trivially.\n{out[-4000:]}"
        )
    return time.monotonic() - start


@dataclasses.dataclass
class Outcome:
    mutation: Mutation
    result: str
    caught: bool
    seconds: float = 0.0


def run_mutation(mutation, *, fresh):
    """Runs each test entry against the mutated copy; caught when all of them fail."""
    start = time.monotonic()
    catchers, missed = [], []
    with tempfile.TemporaryDirectory(prefix=f"skinkeras-{mutation.name}-") as tmp:
        copy = pathlib.Path(tmp)
        make_copy(copy, mutation)
        for entry in mutation.tests:
            code, out = run_pytest(copy, [*PYTEST, "-x", entry], fresh=fresh)
            failed = failed_tests(out)
            if code == NOT_THE_COPY:
                raise BrokenList(f"error: {mutation.name}: {out[-4000:]}")
            if code is None:
                missed.append(f"{entry} timed out after {TIMEOUT_S} s")
            elif code in (1, 2):
                # 1: a test failed; 2: collection or import error in the copy.
                catchers.append(failed[0] if failed else f"{entry} (exit {code})")
            else:
                missed.append(f"{entry} exit {code}")
    seconds = time.monotonic() - start
    if missed:
        caught = f"; caught only by {', '.join(catchers)}" if catchers else ""
        result = "**SURVIVED**: " + "; ".join(missed) + caught
        return Outcome(mutation, result, False, seconds)
    return Outcome(mutation, "caught by " + ", ".join(catchers), True, seconds)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(outcomes):
    rows = ["| mutation | file | tests run | result |", "| --- | --- | --- | --- |"]
    for o in outcomes:
        m = o.mutation
        tests = "<br>".join(f"`{t}`" for t in m.tests)
        rows.append(
            f"| {m.name} | {m.path} | {tests} | {_cell(o.result)}"
            + (f" ({o.seconds:.0f} s)" if o.seconds else "")
            + " |"
        )
    return "\n".join(rows)


def _select(names):
    if names is None:
        return list(MUTATIONS)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = {m.name: m for m in MUTATIONS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise BrokenList(f"error: unknown mutation(s): {', '.join(unknown)}")
    return [known[n] for n in wanted]


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--list", action="store_true", help="list, run nothing")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these")
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="each pytest in a fresh `python -m pytest` (slower: imports TensorFlow "
        "every time) instead of a fork of this process with TensorFlow imported",
    )
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except BrokenList as error:
        print(error, file=sys.stderr)
        return 2


def _main(args):
    problems = list_problems()
    if problems:
        raise BrokenList(
            "error: the mutation list is broken:\n  " + "\n  ".join(problems)
        )
    selected = _select(args.only)
    if args.list:
        for m in selected:
            note = pending_reason(m.name)
            print(f"{m.name}: {m.path} -> {', '.join(m.tests)}")
            if note:
                print(f"    ({note})")
        return 0

    start = time.monotonic()
    runnable = [m for m in selected if pending_reason(m.name) is None]
    if runnable:
        seconds = run_baseline(runnable, fresh=args.fresh)
        print(f"baseline passes ({seconds:.0f} s)", file=sys.stderr)
    outcomes = []
    for m in selected:
        note = pending_reason(m.name)
        if note:
            print(f"{m.name}: skipped, {note}", file=sys.stderr)
            outcomes.append(Outcome(m, f"skipped ({note})", True))
            continue
        outcome = run_mutation(m, fresh=args.fresh)
        print(f"{m.name}: {outcome.result} ({outcome.seconds:.0f} s)", file=sys.stderr)
        outcomes.append(outcome)
    total = time.monotonic() - start

    print(table(outcomes))
    survivors = [o.mutation.name for o in outcomes if not o.caught]
    ran = len(runnable)
    print(
        f"\n{ran - len(survivors)} of {ran} mutations caught, "
        f"{len(selected) - ran} pending; total {total:.0f} s"
    )
    if survivors:
        print(f"SURVIVED: {', '.join(survivors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
