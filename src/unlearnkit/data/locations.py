"""Where local data lives: ``--data-dir``, else ``$UNLEARNKIT_DATA``, else a user cache directory."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

import platformdirs

from ..errors import UnlearnkitError

ENV_VAR = "UNLEARNKIT_DATA"
log = logging.getLogger("unlearnkit")


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return Path(platformdirs.user_cache_dir("unlearnkit")) / "data"


def find_files(subdir: str, names: list[str], data_dir=None, fallbacks: tuple[str, ...] = ()) -> Path:
    """The first directory among ``data_root/subdir`` and ``fallbacks`` holding all ``names``."""
    candidates = [data_root(data_dir) / subdir, *map(Path, fallbacks)]
    for d in candidates:
        if all((d / n).exists() for n in names):
            return d
    tried = ", ".join(str(c) for c in candidates)
    raise UnlearnkitError(
        f"no data found for {subdir!r}: expected {', '.join(names)} in one of: {tried}. "
        f"Put the files there, point --data-dir (or ${ENV_VAR}) at the folder that holds "
        f"'{subdir}/', or pass --download when online."
    )


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, md5: str, name: str, url: str) -> None:
    """Raise (and delete ``path``) unless its MD5 is the published ``md5`` of ``name``."""
    got = file_md5(path)
    if got != md5.lower():
        path.unlink(missing_ok=True)
        raise UnlearnkitError(
            f"downloaded {name} has MD5 {got}, but the published checksum is {md5}: the download is corrupt or "
            f"was tampered with, so it was deleted and not used. Re-run with --download, or fetch {url} by hand "
            f"into the data folder and check its MD5 (md5sum {name})"
        )


def download(url: str, dest: Path, md5: str | None = None) -> Path:
    """Fetch ``url`` to ``dest`` (only ever called when the user asked for --download). With ``md5`` (the
    checksum the source publishes) the file is verified before it takes ``dest``'s name; a mismatch is an
    UnlearnkitError and nothing is left at ``dest``. Without one, a warning says the file is unverified."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        urllib.request.urlretrieve(url, tmp)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UnlearnkitError(f"download of {url} failed ({e}); fetch it by hand into {dest.parent}") from None
    if md5 is not None:
        verify_md5(tmp, md5, dest.name, url)
    else:
        log.warning("no published checksum for %s: %s is used unverified", url, dest)
    tmp.replace(dest)
    return dest
