"""Command-line plumbing shared by experiments.predict, .evaluate and .export.

Each of those scripts keeps its flags in a `FlagValues` of its own instead of absl's
global `FLAGS`: `--model_dir`, `--seed`, `--batch_size` and `--dataset` are also flags
of `experiments.main`, and absl refuses a flag name defined by two modules in one
process (the test suite imports all of them).
"""

import sys

from absl import app, flags


def define_run_flags(flag_values, *, seed_help):
    """`--model_dir` (a run: one seed dir or a multi-seed dir) and `--seed`."""
    flags.DEFINE_string(
        "model_dir",
        None,
        "Run directory: a seed dir or a multi-seed dir.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer("seed", None, seed_help, flag_values=flag_values)


def parse(flag_values, argv):
    """Parses `argv` into `flag_values`; returns the positional arguments.

    `--help` prints the script's flags; a bad flag prints the error and exits 2.
    """
    if any(arg in ("-h", "--help", "-help", "--helpshort") for arg in argv[1:]):
        print(flag_values.get_help())
        sys.exit(0)
    flag_values.unparse_flags()  # back to the defaults (tests parse repeatedly)
    try:
        positional = flag_values(argv)
    except flags.Error as error:
        sys.stderr.write(f"FATAL Flags parsing error: {error}\n")
        sys.stderr.write(f"Pass --help to see the flags of {argv[0]}.\n")
        sys.exit(2)
    # absl's logging and app machinery consult the global FLAGS.
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return positional


def run(main, flag_values):
    """`absl.app.run(main)` with the script's own `flag_values`."""
    app.run(main, flags_parser=lambda argv: parse(flag_values, argv))
