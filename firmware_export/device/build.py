"""Builds a firmware folder with its own Makefile against a real TFLite Micro source tree.

The folder's ``Makefile`` is the recipe its README gives users; everything here runs exactly
that, so a test that passes proves the user's recipe. The TFLM library (minutes to compile) is
built once per tree, target and toolchain into a cache outside the repository (``
$GHOST_KERAS_CACHE`` or ``~/.cache/ghost-keras``), keyed by the tree's content, how the library is built
(``tflm.mk``) and the compiler version; later builds take seconds.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

TARGETS = ("host", "cortex-m4")
_COMPILER = {"host": "g++", "cortex-m4": "arm-none-eabi-g++"}
HARNESS = "kws_wav_harness.cc"
PROBE = "device_probe.cc"
TABLES_CHECK = "activation_tables_check.cc"  # the table kernels against TFLM's, every input
FC_CHECK = "fully_connected_check.cc"  # the FULLY_CONNECTED kernel against TFLM's, random cases
ELEMENTWISE_CHECK = "elementwise_check.cc"  # the ADD/SUB/MUL kernels against TFLM's, random cases
M4_STARTUP = "m4_startup.cc"
M4_LINKER_SCRIPT = "mps2_an386.ld"


class BuildError(RuntimeError):
    """A compiler, make or a tool it needs failed or is missing."""


@dataclass(frozen=True)
class Toolchain:
    """What a target needs on this machine."""

    target: str

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {self.target!r}")

    @property
    def compiler(self) -> str:
        return _COMPILER[self.target]

    def missing(self) -> list[str]:
        """Tools of this target not on PATH (make and the compiler; QEMU for the M4)."""
        tools = ["make", self.compiler] + (["qemu-system-arm"] if self.target != "host" else [])
        return [t for t in tools if shutil.which(t) is None]

    def version(self) -> str:
        out = subprocess.run([self.compiler, "--version"], capture_output=True, text=True)
        return out.stdout.splitlines()[0] if out.stdout else self.compiler


def device_file(name: str) -> Path:
    """Path of a file of ``firmware_export/device`` (the harness, M4 start-up, linker script)."""
    return Path(str(resources.files(__package__).joinpath(name)))


def tflm_makefile() -> Path:
    """The folder's ``tflm.mk`` (how TFLM's library is built): part of the cache key."""
    return Path(str(resources.files("firmware_export.firmware").joinpath("templates", "tflm.mk")))


def cache_root() -> Path:
    return Path(os.environ.get("GHOST_KERAS_CACHE", Path.home() / ".cache" / "ghost-keras"))


@functools.lru_cache(maxsize=None)  # a tree is read-only while a process builds from it
def _tree_digest(tree: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(tree)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _make(args: list[str], log_name: str) -> None:
    jobs = str(os.cpu_count() or 1)
    result = subprocess.run(["make", "-j", jobs, "--no-print-directory", *args],
                            capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise BuildError(f"{log_name} failed (make {' '.join(args)}):\n{tail}")


def tflm_library(tree: str | os.PathLike, target: str = "host", opt: str = "-O2") -> Path:
    """``libtflm.a`` of ``tree`` for ``target``, from the cache or built into it now."""
    tree = Path(tree).resolve()
    toolchain = Toolchain(target)
    missing = toolchain.missing()
    if missing:
        raise BuildError(f"missing tools for {target}: {', '.join(missing)}")
    key = hashlib.sha256("\n".join([
        _tree_digest(tree), tflm_makefile().read_text(), toolchain.version(), target, opt,
    ]).encode()).hexdigest()[:20]
    out = cache_root() / "tflm" / f"{target}-{key}"
    lib = out / "libtflm.a"
    if lib.is_file():
        return lib
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target}-", dir=out.parent))
    try:
        _make(["-f", str(tflm_makefile()), f"TFLM_TREE={tree}", f"TARGET={target}",
               f"OPT={opt}", f"BUILD={work}", "tflm"], f"building TFLM for {target}")
        if not out.exists():  # another process may have built the same key meanwhile
            os.replace(work, out)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return lib


def build_app(folder: str | os.PathLike, tree: str | os.PathLike, out_dir: str | os.PathLike,
              target: str = "host", *, app: str = HARNESS,
              cmsis_dsp: str | os.PathLike | None = None, opt: str = "-O2",
              arena_bytes: int | None = None) -> Path:
    """Builds ``folder`` with its Makefile, linked with ``app`` (the WAV harness or the device
    probe of this package), into ``out_dir``; returns the executable (an ELF for QEMU on the
    M4). Several apps can share one ``out_dir``: the folder's objects are built once.
    ``arena_bytes`` overrides the header's arena (a folder sized for a 32-bit device needs more
    on a 64-bit host)."""
    folder, out_dir = Path(folder).resolve(), Path(out_dir).resolve()
    lib = tflm_library(tree, target, opt)
    sources = [device_file(app)]
    ldflags = []
    if target == "cortex-m4":
        sources.append(device_file(M4_STARTUP))
        ldflags = [f"-T{device_file(M4_LINKER_SCRIPT)}", "--specs=rdimon.specs"]
    name = Path(app).stem
    args = ["-f", str(folder / "Makefile"), f"TFLM_TREE={Path(tree).resolve()}",
            f"TARGET={target}", f"OPT={opt}", f"BUILD={out_dir}", f"TFLM_LIB={lib}", f"APP={name}",
            "APP_SRCS=" + " ".join(str(a) for a in sources), "LDFLAGS=" + " ".join(ldflags)]
    if cmsis_dsp is not None:
        args.append(f"CMSIS_DSP={Path(cmsis_dsp).resolve()}")
    if arena_bytes is not None:
        args.append(f"KWS_DEFINES=-DKWS_TENSOR_ARENA_BYTES={int(arena_bytes)}")
    _make(args, f"building {folder.name} with {name} for {target}")
    return out_dir / name


def cmsis_dsp_sources() -> Path | None:
    """CMSIS-DSP's C sources (``Include/``, ``PrivateInclude/``, ``Source/``) of the installed
    ``cmsisdsp`` release, so that the firmware's MFCC is the code training ran: the folder in
    ``$GHOST_KERAS_CMSIS_DSP``, else ``<cache>/cmsisdsp-<version>`` (``.ci/setup`` unpacks the
    release's source distribution there). None when neither exists."""
    from importlib import metadata

    given = os.environ.get("GHOST_KERAS_CMSIS_DSP")
    path = Path(given) if given else cache_root() / f"cmsisdsp-{metadata.version('cmsisdsp')}"
    return path if (path / "Source").is_dir() else None
