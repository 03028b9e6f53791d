"""The slow suite split into shards that take about equally long (`.ci/run`).

`.ci/run` starts one `pytest -m slow --slow_shard=K/2` per core. Each keeps the tests
that longest-processing-time-first scheduling gives to shard K, from the durations
below, so the longest tests start at once, one per core, where pytest-xdist's load
scheduling had started one of them halfway through and left the other worker idle at
the end (CI of 00cabde: 55 min for ~47 min of work per worker).
"""

# The slow tests' seconds in CI (`--durations` of `.ci/run` at 1a4ed33, one shard per
# core on 2 cores: 958 s and 892 s; the demo's figure is ResNet-26's at 64 px, measured
# alone here and scaled by that run's ratio for the ResNet-50 demo it replaced). Only the
# wall time depends on them; a test not listed counts as SLOW_DEFAULT_SECONDS.
# tests/test_ci_schedule.py checks that each is still a test.
SLOW_TEST_SECONDS = {
    "tests/experiments/test_main.py::"
    "test_readme_demo_reaches_auroc_0_85_and_metadata_adds_0_05": 840,
    "tests/experiments/test_reproducibility.py::"
    "test_summaries_are_bit_identical_across_processes_seed_order_and_a_kill": 432,
    "tests/experiments/test_multiworker.py::test_mirrored_on_two_logical_cpus": 245,
    "tests/test_mutations.py::test_no_mutation_survives": 160,  # 37 mutations (issue 26)
    "tests/experiments/test_multiworker.py::"
    "test_two_workers_on_localhost_train_one_model": 146,
    "tests/test_benchmarks.py::test_models_benchmark_prints_both_tables": 119,
    "tests/segmentation/test_training.py::"
    "test_killed_run_resumes_from_its_last_checkpoint": 40,
    "tests/inference/test_export.py::test_effnet_arl_se_exports": 66,
    "tests/experiments/test_segment.py::test_offline_run_on_synthetic_lesions": 80,
    "tests/layers/test_jax_backend.py::test_models_under_jax_equal_tensorflow": 35,
    "tests/training/test_loop.py::"
    "test_a_seed_gives_the_same_numbers_whatever_ran_before": 25,
    "tests/experiments/test_suite.py::"
    "test_micro_suite_of_experiment_4_on_a_stand_in_network": 21,
    "tests/training/test_loop.py::"
    "test_killed_run_resumes_from_the_last_finished_epoch": 20,
    "tests/training/test_multiworker_validation.py::"
    "test_two_workers_record_validation_of_true_pairs": 16,
    # Measured on this 2-core machine beside a CI run (issue 24): 130 s and 228 s, plus
    # the ONNX export alone with other work on the cores: 49 s and 77 s (whole tests
    # with it there: 376 s and 294 s).
    "tests/inference/test_backbones.py::test_train_predict_and_tflite_agree[effnet_b3]": 180,
    "tests/inference/test_backbones.py::test_train_predict_and_tflite_agree[resnet101]": 300,
    # Measured here with other work on the 2 cores (load average 3-6), so upper bounds.
    "tests/models/test_sizes.py::"
    "test_size_equals_keras_applications_through_a_legacy_file[effnet_b6]": 44,
    "tests/models/test_sizes.py::"
    "test_size_equals_keras_applications_through_a_legacy_file[effnet_b7]": 34,
    "tests/models/test_sizes.py::"
    "test_size_equals_keras_applications_through_a_legacy_file[resnet152]": 33,
    "tests/models/test_sizes.py::"
    "test_size_equals_keras_applications_through_a_legacy_file[effnet_b5]": 27,
    **{
        "tests/training/test_precision.py::"
        f"test_models_built_under_the_policy_compute_in_half_precision[{name}]": seconds
        for name, seconds in (
            ("effnet_b7", 9),
            ("effnet_b6", 7),
            ("effnet_b3", 5),
            ("resnet152", 5),
            ("effnet_b4", 4),
            ("effnet_b5", 4),
            ("effnet_b2", 3),
        )
    },
    # Alone on this 2-core machine beside other work (load 3-5; issue 25): 110 s and 155 s.
    "tests/training/test_launch.py::"
    "test_two_configurations_on_a_local_ray_give_the_serial_numbers_after_a_kill": 155,
    # 532 s here beside two other test runs (load 4-5; issue 25): 8 tiny runs in 5
    # processes, two at a time.
    "tests/experiments/test_shared_seeds.py::"
    "test_processes_on_one_directory_share_the_seeds_with_the_serial_numbers": 300,
    # Issue 26, measured here beside other work: the README demo above runs twice
    # (image only, then --metadata: 350 s and 390 s alone); a tiny metadata run; the
    # metadata ONNX export.
    "tests/training/test_metadata_run.py::"
    "test_tiny_metadata_run_trains_the_branch_with_the_head": 60,
    "tests/inference/test_export.py::test_metadata_onnx_agrees_with_keras": 45,
    "tests/inference/test_export.py::test_onnx_agrees_with_keras": 40,
}
SLOW_DEFAULT_SECONDS = 10


def slow_groups(nodeids, workers):
    """`{nodeid: group index}`: longest first, each to the least loaded group."""
    loads = [0] * workers
    groups = {}
    # Ties broken by node id: every xdist worker must compute the same groups.
    for nodeid in sorted(
        nodeids, key=lambda n: (-SLOW_TEST_SECONDS.get(n, SLOW_DEFAULT_SECONDS), n)
    ):
        group = loads.index(min(loads))
        groups[nodeid] = group
        loads[group] += SLOW_TEST_SECONDS.get(nodeid, SLOW_DEFAULT_SECONDS)
    return groups


def parse_shard(text):
    """`"K/N"` → `(K, N)`, with 0 <= K < N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        index = count = -1
    if not 0 <= index < count:
        raise ValueError(
            f"Expected --slow_shard=K/N with 0 <= K < N. Received: {text!r}"
        )
    return index, count


def select_shard(items, shard, deselected):
    """Keeps the items of shard `(K, N)` in place; the others go to `deselected`."""
    index, count = shard
    groups = slow_groups([item.nodeid for item in items], count)
    kept = [item for item in items if groups[item.nodeid] == index]
    deselected.extend(item for item in items if groups[item.nodeid] != index)
    return kept
