"""Where the builders' official files come from, for every builder but
`synthetic_lesions`:

- `locate`: the files come from `manual_dir` when they are there (then the network
  is never touched) or are downloaded from the public ISIC bucket, and are checked
  against their published MD5s where there are any (`TFDS_ISIC_SKIP_MD5=1` turns
  the check off, for re-packed or subset archives);
- `in_manual_dir`: the files the user put there (a file read only then, or a
  layout recognised by them);
- `require_manual`: files that are never downloaded, all from `manual_dir`;
- `manual_instructions`: the builder's `MANUAL_DOWNLOAD_INSTRUCTIONS`.

File access goes through `epath` (the TFDS test harness forbids `os` file calls in
builder modules, and `epath` also reads GCS paths).
"""

import dataclasses
import hashlib

from etils import epath

from tfds_isic import settings


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One official file: its name (as downloaded), URL and published MD5 if any.

    `aliases`: other names it is read under from `manual_dir`, after `name`
    (copies that rename it, such as Kaggle's of HAM10000's metadata).
    """

    name: str
    url: str
    md5: str | None = None
    aliases: tuple = ()


def manual_instructions(files, *, download_size=None, alternative=None):
    """What to put into `--manual_dir`: each of `files` with its URL.

    `download_size` ("the image zip is about 9 GB") is said of the download;
    files with a published MD5 add how to build from re-packed archives;
    `alternative`, `(sentence, other files)`, other files that also build.
    """
    size = f" ({download_size})" if download_size else ""
    text = (
        f"Optional: without them the files are downloaded{size}. To build from files "
        "you already have, put these official files (same names) into "
        "--manual_dir:\n" + file_lines(files)
    )
    if alternative:
        text += f"\n{alternative[0]}\n{file_lines(alternative[1])}"
    if any(f.md5 for f in files):
        text += f"\nSet {settings.SKIP_MD5_ENV}=1 for re-packed or subset archives."
    return text


def _manual_dir(dl_manager):
    """`(path, explicit, configured)` of the manual dir.

    `path` is the manual dir if it exists and is not empty, else None; `explicit`
    is True when the user passed one (`--manual_dir`), i.e. `configured` is not
    TFDS' default `<download_dir>/manual`.
    """
    try:
        path = epath.Path(dl_manager.manual_dir)
    except (AssertionError, ValueError):  # TFDS: missing or empty manual dir
        path = None
    # TFDS keeps the configured manual dir (existing or not) in `_manual_dir`.
    configured = getattr(dl_manager, "_manual_dir", None) or path
    default = epath.Path(dl_manager.download_dir) / "manual"
    explicit = configured is not None and epath.Path(configured) != default
    return path, explicit, configured


def file_lines(files):
    """`  name  (url)` a line for each of `files`, with the aliases it is read under."""
    return "\n".join(f"  {' or '.join((f.name, *f.aliases))}  ({f.url})" for f in files)


def _missing(files, paths, configured, advice):
    """`FileNotFoundError` listing those of `files` not in `paths`, then `advice`."""
    missing = [f for f in files if f.name not in paths]
    return FileNotFoundError(
        f"Missing in manual_dir {configured}:\n{file_lines(missing)}\n{advice} "
        f"Received: manual_dir={configured}"
    )


def locate(builder, dl_manager, files, *, alternative=""):
    """Paths of `files` ({name: path}), from `manual_dir` or downloaded, MD5-checked
    where an MD5 is published.

    All files present in the manual dir: they are used and nothing is downloaded.
    None present and no `--manual_dir` given: all are downloaded from their URLs.
    Otherwise (some missing, or an explicit `--manual_dir` without them): a
    `FileNotFoundError` lists each missing file with its URL and the command that
    downloads them all for `builder`, then `alternative` (other files that would
    do, a sentence).
    """
    manual, explicit, configured = _manual_dir(dl_manager)
    present = in_manual_dir(dl_manager, files)
    if len(present) == len(files):
        paths = present
    elif present or explicit:
        raise _missing(
            files,
            present,
            configured,
            "Put the official files there under these names, or download them all "
            f"by building without --manual_dir: tfds build {builder.name}/"
            f"{builder.builder_config.name} --imports=tfds_isic"
            + (f". {alternative}" if alternative else "."),
        )
    else:
        downloaded = dl_manager.download({f.name: f.url for f in files})
        paths = {name: epath.Path(path) for name, path in downloaded.items()}
    check_md5(paths, files)
    return paths


def in_manual_dir(dl_manager, files):
    """{name: path} of those of `files` in the manual dir, each under the first of
    its name and aliases found there.

    Also for files with no stable download URL (HAM10000's files on Dataverse are
    served by file id only, issue 16): read when the user put them there.
    """
    manual, _, _ = _manual_dir(dl_manager)
    if manual is None:
        return {}
    paths = {}
    for f in files:
        found = [manual / n for n in (f.name, *f.aliases) if (manual / n).exists()]
        if found:
            paths[f.name] = found[0]
    return paths


def require_manual(dl_manager, files, *, advice):
    """Paths of `files` ({name: path}), all from the manual dir, MD5-checked where
    an MD5 is published: for a set of files that is never downloaded (a layout
    recognised by some of them being there).

    Raises `FileNotFoundError` listing each missing file with its URL, then
    `advice` (a sentence), ending `Received: manual_dir=...`.
    """
    paths = in_manual_dir(dl_manager, files)
    if len(paths) < len(files):
        raise _missing(files, paths, _manual_dir(dl_manager)[2], advice)
    check_md5(paths, files)
    return paths


def file_md5(path, chunk_size=1 << 20):
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with epath.Path(path).open("rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(paths, files):
    """Raises `ValueError` naming each file whose MD5 differs from the published one."""
    if not settings.md5_check_enabled():
        return
    bad = []
    for f in files:
        if f.md5 is None:
            continue
        actual = file_md5(paths[f.name])
        if actual != f.md5:
            bad.append(f"  {f.name} at {paths[f.name]}: MD5 {actual}, expected {f.md5}")
    if bad:
        raise ValueError(
            "Corrupt or non-official ISIC file(s) (MD5 differs from the published "
            "one):\n" + "\n".join(bad) + "\nDownload them again from "
            "https://challenge.isic-archive.com/data/ , or set "
            f"{settings.SKIP_MD5_ENV}=1 to build from re-packed or subset archives "
            "that keep the official names."
        )
