"""Command-line plumbing shared by every `experiments` script.

`run(main, flag_values)` is `absl.app.run(main)` with two additions (and
`console_script(main, flag_values)` the scripts' `cli` that runs it):

- `--help` (`-h`, `--helpshort`) prints the script's description (the first
  paragraph of its docstring), its usage with the positional arguments, and its
  flags, and exits 0; `--helpfull` adds absl's own flags. Nothing heavy is imported
  before that: the scripts import TensorFlow, matplotlib etc. where they use them.
- A quiet start-up: TensorFlow's C++ log (`TF_CPP_MIN_LOG_LEVEL`, unless the user
  set it) and absl's INFO lines (TFDS) are off unless `--verbosity=1` or higher asks
  for them (`set_up_logging`); `--verbosity` works with a script's own `FlagValues`
  too.

`experiments.main`, `.summarize` and `.preview` define their flags in absl's global
`FLAGS`. The others keep theirs in a `FlagValues` of their own: `--model_dir`,
`--seed`, `--batch_size` and `--dataset` are also flags of `experiments.main`, and
absl refuses a flag name defined twice in one `FlagValues` (the test suite imports all
of them). Either way a command's flags are filed under its module's name
(`experiments.common_flags` defines the shared ones so), and `--help` shows them with
absl's `FlagValues.module_help`.
"""

import os
import sys
import tempfile

from absl import app, flags, logging

from experiments.common_flags import module_key
from skinkeras import _import_hook

_HELP = ("-h", "-?", "-help", "--help", "-helpshort", "--helpshort")
_HELPFULL = ("-helpfull", "--helpfull")

VERBOSITY_HELP = (
    "Logging: quiet by default (warnings and errors; no TensorFlow C++ log). "
    "--verbosity=1 also shows INFO lines (absl, TFDS) and TensorFlow's C++ log, "
    "--verbosity=2 adds DEBUG."
)


def parse(flag_values, argv):
    """Parses `argv` into a script's own `flag_values`; returns the positional arguments.

    A bad flag prints the error and exits 2.
    """
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


def program(module):
    """How the user called the script: ``python -m experiments.x`` or its console script."""
    spec = getattr(module, "__spec__", None)
    if module.__name__ == "__main__" and spec is not None:
        return f"python -m {spec.name}"
    return os.path.basename(sys.argv[0])


def description(module):
    """The first paragraph of the module's docstring, on one line."""
    paragraph = (module.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def help_text(module, flag_values, *, positional=(), full=False):
    """What `--help` (or, with ``full``, `--helpfull`) prints.

    Args:
        module: the script's module (its docstring and flags).
        flag_values: where its flags are defined.
        positional: ``[(name, help)]`` of its positional arguments.
        full: also absl's flags (logging, debugging).
    """
    usage = " ".join([program(module), "[flags]", *(name for name, _ in positional)])
    lines = [description(module), "", f"usage: {usage}"]
    for name, text in positional:
        entry = f"{name}: {text}"
        lines.append(
            flags.text_wrap(entry, length=80, indent="    ", firstline_indent="  ")
        )
    # absl's rendering of the command's own flags, under "flags:" rather than its
    # module's name (a file path for `python -m`).
    key = module_key(module.__name__)
    own = flag_values.module_help(key).lstrip("\n").partition("\n")[2]
    lines += ["", "flags:", own, "", flags.text_wrap(VERBOSITY_HELP, length=80)]
    if full:
        for name in sorted(flags.FLAGS.flags_by_module_dict()):
            if name != key:
                lines.append(flags.FLAGS.module_help(name))
    else:
        lines.append("--helpfull also lists absl's flags.")
    return "\n".join(lines)


def _help_request(argv):
    for arg in argv[1:]:
        if arg == "--":  # the rest are positional arguments
            break
        if arg in _HELP:
            return "help"
        if arg in _HELPFULL:
            return "helpfull"
    return None


def _silence_stderr(exec_module, module):
    """Runs ``exec_module(module)`` with file descriptor 2 going to a temporary file.

    TensorFlow's C++ libraries log while they load, before TF_CPP_MIN_LOG_LEVEL
    applies ("All log messages before absl::InitializeLog() ...", `cudart_stub`);
    what they wrote is shown only if the import fails.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    failed = False
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            exec_module(module)
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))


def set_up_logging(verbosity):
    """Sets up logging for a run of a script with ``--verbosity=verbosity``.

    Default (0 or not given): absl logs warnings and errors only (it would show
    INFO after `app.run`), and TensorFlow's C++ log is off
    (``TF_CPP_MIN_LOG_LEVEL=3``, hiding start-up lines such as `cuInit` and the
    CPU-instruction notes). 1: INFO, 2: DEBUG, and TensorFlow's C++ log at its
    default. A ``TF_CPP_MIN_LOG_LEVEL`` set by the user is kept. Must run before
    TensorFlow is imported.
    """
    if verbosity >= 1:
        absl_level = verbosity - 1  # absl's 0 is INFO, 1 DEBUG
    else:
        absl_level = min(verbosity, logging.WARNING)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    app.call_after_init(lambda: logging.set_verbosity(absl_level))
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0").strip()
    if level.isdigit() and int(level) >= 1:
        _import_hook.wrap_import("tensorflow", _silence_stderr)


def run(main, flag_values=flags.FLAGS, *, positional=()):
    """`absl.app.run(main)` with the script's `flag_values`, help and quiet start-up.

    Args:
        main: the script's ``main(argv)``; its module gives the help's description.
        flag_values: `flags.FLAGS` or the script's own `FlagValues`.
        positional: ``[(name, help)]`` of the positional arguments, for `--help`.
    """
    module = sys.modules[main.__module__]
    if flag_values is not flags.FLAGS and "verbosity" not in flag_values:
        # The same Flag object: parsing it here sets absl's logging level.
        flags.DEFINE_flag(
            flags.FLAGS["verbosity"], flag_values=flag_values, module_name="absl"
        )

    def parse_argv(argv):
        request = _help_request(argv)
        if request is not None:
            text = help_text(
                module, flag_values, positional=positional, full=request == "helpfull"
            )
            try:
                print(text, flush=True)
            except BrokenPipeError:  # `--help | head`: the reader has had enough
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        if flag_values is flags.FLAGS:
            args = app.parse_flags_with_usage(argv)  # exits 1 on a bad flag
        else:
            args = parse(flag_values, argv)
        verbosity = flags.FLAGS["verbosity"]
        set_up_logging(verbosity.value if verbosity.present else 0)
        return args

    app.run(main, flags_parser=parse_argv)


def console_script(main, flag_values=flags.FLAGS, *, positional=()):
    """The script's console-script entry point, ``cli = console_script(main, FLAGS)``.

    setup.py's `entry_points` name it (``experiments.<script>:cli``): a function of
    no arguments that runs `run(main, flag_values, positional=positional)`.
    """

    def cli():
        """Console script entry point."""
        run(main, flag_values, positional=positional)

    return cli


def pyplot():
    """`matplotlib.pyplot` drawing to files only (Agg), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
