"""Writing files so that no reader ever sees half of one, and weights in shards small enough to commit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Every committed file stays under 25 MB, and a device machine hands back files of at most 16 MB: a fully
# fine-tuned encoder (43 MB in fp16) is split.
MAX_SHARD_BYTES = 14 * 1024 * 1024


def save_weight_shards(tensors: dict, folder: Path, stem: str, max_bytes: int = MAX_SHARD_BYTES) -> list[Path]:
    """Save ``tensors`` as ``stem.safetensors``, or as ``stem-00001-of-0000N.safetensors`` shards of at most
    ``max_bytes`` each when they do not fit one; files of the other layout left from an earlier run are removed."""
    from safetensors.torch import save_file

    shards: list[dict] = [{}]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.contiguous()
        size += nbytes
    for stale in weight_files(folder, stem):
        stale.unlink()
    if len(shards) == 1:
        paths = [folder / f"{stem}.safetensors"]
    else:
        paths = [folder / f"{stem}-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    for shard, path in zip(shards, paths):
        save_file(shard, str(path))
    return paths


def weight_files(folder: Path, stem: str) -> list[Path]:
    """The files holding ``stem``'s weights in ``folder``: the single file, or every shard, in order."""
    single = folder / f"{stem}.safetensors"
    return [single] if single.is_file() else sorted(folder.glob(f"{stem}-*-of-*.safetensors"))


def load_weight_shards(folder: Path, stem: str) -> dict:
    """The tensors saved by ``save_weight_shards``; FileNotFoundError naming the file when none or a shard is missing."""
    from safetensors.torch import load_file

    paths = weight_files(folder, stem)
    if not paths:
        raise FileNotFoundError(f"{folder / (stem + '.safetensors')} is missing")
    expected = int(paths[0].stem.rsplit("-of-", 1)[1]) if "-of-" in paths[0].name else 1
    if len(paths) != expected:
        raise FileNotFoundError(f"{folder}: {len(paths)} of the {expected} shards of {stem} are there")
    tensors: dict = {}
    for path in paths:
        tensors.update(load_file(str(path)))
    return tensors
