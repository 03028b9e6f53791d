"""Reading the official ISIC archives safely, and checking what they hold.

- `ZipArchive`: random access to the members of a zip through `epath`, one member in
  memory at a time, with checks of the top folder, of one file per image id and of
  the same ids as the labels (`image_members`; `find_images` for images spread
  over several zips), and size limits (`settings.MemberLimits`) checked before a
  member is read;
- `read_csv`, `rows_by_id` (both: `read_rows`), `check_same_ids`: a CSV with the
  expected columns, one row per id, and the same ids in images and labels;
- `IntegrityError`: an archive or CSV that contradicts itself, raised with the file
  and the ids at fault; `check_none` raises it with what was found ("Received:",
  a `listing` that keeps such lists short).

File access goes through `epath` (the TFDS test harness forbids `os` file calls in
builder modules, and `epath` also reads GCS paths).
"""

import collections
import csv
import io
import re
import zipfile
import zlib

from etils import epath

from tfds_isic import settings

# Below this uncompressed size a member is not ratio-checked: it cannot hurt, and a
# small file of repeated bytes compresses well without being a bomb.
_RATIO_CHECK_MIN_BYTES = 1 << 20
_MAX_LISTED = 10


class IntegrityError(ValueError):
    """An archive or CSV contradicts itself: an id twice, a label that is no label.

    Raised instead of letting one of two candidates win silently; the message names
    the file and the image ids at fault.
    """


def listing(items):
    """`a, b, c` with at most `_MAX_LISTED` items and a count of the rest."""
    items = sorted(items)
    text = ", ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += f" and {len(items) - _MAX_LISTED} more"
    return text


def check_none(found, message):
    """Raises `IntegrityError`, `message` followed by `Received:` and a `listing`
    of `found`, unless `found` is empty."""
    if found:
        raise IntegrityError(f"{message} Received: {listing(found)}")


def _repeated(pairs):
    """{key: [values]} of the keys that come with more than one value in `pairs`."""
    groups = collections.defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return {key: values for key, values in groups.items() if len(values) > 1}


class ZipArchive:
    """A zip read member by member (random access, never the whole archive).

    Args:
        path: the zip file.
        name: what messages call it (the official file name).
        limits: `settings.MemberLimits` of `read`; default: their `from_env()`.
    """

    def __init__(self, path, *, name, limits=None):
        self.name = name
        self.path = epath.Path(path)
        self.limits = settings.MemberLimits.from_env() if limits is None else limits
        self._file = self.path.open("rb")
        try:
            self._zip = zipfile.ZipFile(self._file)
        except zipfile.BadZipFile as e:
            self._file.close()
            raise ValueError(
                f"{name} ({self.path}) is not a valid zip file: {e}"
            ) from e
        # Folder entries and macOS resource forks carry no data.
        self.members = [
            m
            for m in self._zip.namelist()
            if not m.endswith("/") and not m.startswith("__MACOSX/")
        ]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._zip.close()
        self._file.close()

    def check_top_folder(self, top_folder):
        """Raises `ValueError` unless every member lies under `top_folder/`."""
        prefix = top_folder + "/"
        outside = [m for m in self.members if not m.startswith(prefix)]
        if outside or not self.members:
            found = {m.split("/", 1)[0] + ("/" if "/" in m else "") for m in outside}
            raise ValueError(
                f"{self.name} ({self.path}): expected all files inside the top folder "
                f"'{prefix}', as in the official archive; found "
                f"{listing(found) if found else 'an empty archive'}."
            )

    def files_matching(self, pattern, *, what):
        """{match.group(1): member} for members whose base name matches `pattern`.

        Raises `IntegrityError` naming the ids with more than one member: the same
        name twice, in two folders, or with another extension (`ISIC_0000001.jpg`
        and `ISIC_0000001.png`). Which one is the id's `what` ("image", "mask")
        would be a guess (zipfile silently reads the last of two equal names).
        """
        regex = re.compile(pattern)
        ids = {}  # {stem: id} of the members that match
        for member in self.members:
            match = regex.fullmatch(member.rsplit("/", 1)[-1])
            if match:
                ids[_stem(member)] = match.group(1)
        found = [(ids[_stem(m)], m) for m in self.members if _stem(m) in ids]
        check_none(
            [f"{i} ({' and '.join(m)})" for i, m in _repeated(found).items()],
            f"{self.name} ({self.path}) holds more than one file for one image id; "
            f"expected one {what} per id, as in the official archive.",
        )
        return dict(found)

    def image_members(self, *, top_folder, pattern, labels, labels_name, skip=()):
        """{image id: member} of the images, checked: every file under
        `top_folder/`, one file matching `pattern` per id, and, once the ids in
        `skip` are left out, exactly the ids of `labels` (the rows of `labels_name`).
        """
        found = find_images(
            [(self, top_folder)],
            pattern=pattern,
            labels=labels,
            labels_name=labels_name,
            skip=skip,
        )
        return {image_id: member for image_id, (_, member) in found.items()}

    def read(self, member):
        """The bytes of `member`, refused (`ValueError` naming archive and member)
        when its size or compression ratio is over `limits`, or its data is corrupt.

        The sizes are checked before anything is decompressed, and the read is
        bounded too, so that a member whose header lies cannot fill the memory.
        """
        info = self._zip.getinfo(member)
        limits = self.limits
        where = f"{self.name} ({self.path}): member {member}"
        advice = (
            f"A real ISIC file is far smaller; if this one is genuine, raise the limit "
            f"with {settings.MAX_MEMBER_BYTES_ENV} / "
            f"{settings.MAX_COMPRESSION_RATIO_ENV}."
        )
        if info.file_size > limits.max_bytes:
            raise ValueError(
                f"{where} expands to {info.file_size} bytes, more than the limit of "
                f"{limits.max_bytes}. {advice} Received: file_size={info.file_size}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_CHECK_MIN_BYTES and ratio > limits.max_ratio:
            raise ValueError(
                f"{where} expands {ratio:.0f} times ({info.compress_size} -> "
                f"{info.file_size} bytes), more than the limit of {limits.max_ratio:g} "
                f"(a zip bomb?). {advice} Received: compression_ratio={ratio:.1f}"
            )
        try:
            with self._zip.open(info) as file:
                data = file.read(limits.max_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise ValueError(f"{where} is corrupt: {error}") from error
        if len(data) > limits.max_bytes:  # zipfile trusts the header: belt and braces
            raise ValueError(
                f"{where} holds more than its declared {info.file_size} bytes and "
                f"more than the limit of {limits.max_bytes}."
            )
        return data


def find_images(zips, *, pattern, labels, labels_name, skip=()):
    """{image id: (archive, member)} of the images spread over one or more zips,
    checked as `ZipArchive.image_members` checks one, and no id in two zips.

    Args:
        zips: [(`ZipArchive`, its top folder)]; a top folder of None is not checked
            (where copies differ, as of HAM10000's Dataverse zips: images at the
            root or in a folder).
        pattern, labels, labels_name, skip: as `ZipArchive.image_members`.
    """
    found = []
    for archive, top_folder in zips:
        if top_folder is not None:
            archive.check_top_folder(top_folder)
        members = archive.files_matching(pattern, what="image")
        found += [(i, (archive, m)) for i, m in members.items() if i not in skip]
    names = " and ".join(archive.name for archive, _ in zips)
    # Which zip's image is the id's would be a guess, as within one zip.
    repeated = _repeated((i, archive.name) for i, (archive, _) in found)
    check_none(
        [f"{i} ({' and '.join(r)})" for i, r in repeated.items()],
        f"{names} hold more than one image for one id; expected each id in one zip.",
    )
    members = dict(found)
    check_same_ids(members, labels, images_name=names, labels_name=labels_name)
    return members


def _stem(member):
    """Base name without its extension: `a/ISIC_0000001.jpg` -> `ISIC_0000001`."""
    return member.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def read_csv(data, *, name, columns):
    """Rows (dicts) of a CSV given as bytes whose header holds `columns`."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    fields = reader.fieldnames or []
    missing = [c for c in columns if c not in fields]
    if missing:
        raise ValueError(
            f"{name} lacks the column(s) {', '.join(missing)}; expected a header "
            f"with {','.join(columns)}. Received: columns={','.join(fields)}"
        )
    return list(reader)


def rows_by_id(rows, *, name, key="image_id"):
    """{row[key]: row}; raises `IntegrityError` naming the ids of more than one row.

    Two rows for one image, even with the same labels, mean an edited or merged
    file: which row holds would be a guess.
    """
    repeated = _repeated((row[key], row) for row in rows)
    check_none(
        [f"{i} ({len(r)} rows)" for i, r in repeated.items()],
        f"{name} holds more than one row for one {key}; expected one row per image, "
        "as in the official file.",
    )
    return {row[key]: row for row in rows}


def read_rows(data, *, name, columns, key):
    """{row[key]: row} of a CSV given as bytes: `read_csv`, then `rows_by_id`."""
    rows = read_csv(data, name=name, columns=columns)
    return rows_by_id(rows, name=name, key=key)


def check_same_ids(images, labels, *, images_name, labels_name):
    """Raises `IntegrityError` naming ids with an image but no label, or vice versa."""
    no_label = set(images) - set(labels)
    no_image = set(labels) - set(images)
    if no_label or no_image:
        lines = [f"{images_name} and {labels_name} do not match:"]
        if no_label:
            lines.append(
                f"  images without a label in {labels_name}: {listing(no_label)}"
            )
        if no_image:
            lines.append(
                f"  labels without an image in {images_name}: {listing(no_image)}"
            )
        raise IntegrityError("\n".join(lines))
