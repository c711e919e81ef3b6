"""Where local data lives: ``--data-dir``, else ``$UNLEARNKIT_DATA``, else a user cache directory."""
from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import platformdirs

from ..errors import UnlearnkitError

ENV_VAR = "UNLEARNKIT_DATA"


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


def download(url: str, dest: Path) -> Path:
    """Fetch ``url`` to ``dest`` (only ever called when the user asked for --download)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        urllib.request.urlretrieve(url, tmp)
    except OSError as e:
        raise UnlearnkitError(f"download of {url} failed ({e}); fetch it by hand into {dest.parent}") from None
    tmp.replace(dest)
    return dest
