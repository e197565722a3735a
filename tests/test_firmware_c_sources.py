"""C sources: the model array is byte-identical to the .tflite on the host and lands in flash
on a Cortex-M4; generic constant tables compile and hold exactly the given values."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from test_firmware_helpers import ARM_FLAGS, compile_host, require_tool, run, tiny_model

from firmware_export.firmware.c_sources import (
    c_float_literal,
    format_hex_bytes,
    render_c_arrays,
    render_model_data,
    validate_c_identifier,
)

DUMP_MODEL = r"""
#include <stdint.h>
#include <stdio.h>
#include "model_data.h"

int main() {
  // The array must start on a 16-byte boundary, as TFLM expects of a flatbuffer in place.
  if (reinterpret_cast<uintptr_t>(g_test_model) % 16 != 0) return 3;
  if (fwrite(g_test_model, 1, g_test_model_len, stdout) != g_test_model_len) return 4;
  return 0;
}
"""


def _write(d: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (d / name).write_text(text)
    return d


@pytest.fixture(scope="module")
def model_sources(tmp_path_factory) -> Path:
    src = render_model_data(tiny_model(), "g_test_model")
    return _write(tmp_path_factory.mktemp("model_data"),
                  {src.header_name: src.header, src.source_name: src.source})


def test_model_array_is_byte_identical_on_the_host(model_sources):
    _write(model_sources, {"dump.cc": DUMP_MODEL})
    binary = compile_host([model_sources / "dump.cc", model_sources / "model_data.cc"],
                          model_sources / "dump", [model_sources], cxx=True)
    assert run([str(binary)]) == tiny_model()


def test_model_array_goes_to_flash_on_cortex_m4(model_sources):
    cxx = require_tool("arm-none-eabi-g++")
    size = require_tool("arm-none-eabi-size")
    readelf = require_tool("arm-none-eabi-readelf")
    obj = model_sources / "model_data.o"
    run([cxx, *ARM_FLAGS, "-std=c++17", "-c", str(model_sources / "model_data.cc"),
         "-o", str(obj)])
    sections = dict(re.findall(r"^(\.\w+)\s+(\d+)", run([size, "-A", str(obj)]).decode(), re.M))
    model_bytes = len(tiny_model())
    print(f"\ncortex-m4 model_data.o: .rodata {sections['.rodata']} bytes, .data "
          f"{sections['.data']}, .bss {sections['.bss']} (model {model_bytes} bytes)")
    assert int(sections[".rodata"]) >= model_bytes  # read-only: flash, not RAM
    assert int(sections[".data"]) == 0 and int(sections[".bss"]) == 0
    rodata = re.search(r"\.rodata\s+PROGBITS(?:\s+\S+){4}\s+\S*\s*A\s+\d+\s+\d+\s+(\d+)",
                       run([readelf, "-S", "-W", str(obj)]).decode())
    assert rodata and int(rodata.group(1)) >= 16  # section alignment

    # The placement hook moves it into a named section, still in flash.
    run([cxx, *ARM_FLAGS, "-std=c++17", "-c", str(model_sources / "model_data.cc"),
         "-DGHOST_KWS_MODEL_ATTRIBUTE=__attribute__((section(\".model_flash\")))",
         "-o", str(obj)])
    sections = dict(re.findall(r"^(\.\w+)\s+(\d+)", run([size, "-A", str(obj)]).decode(), re.M))
    assert int(sections[".model_flash"]) == model_bytes


def test_model_source_format_is_deterministic():
    data = bytes(range(30))
    a, b = render_model_data(data, "g_x"), render_model_data(data, "g_x")
    assert a == b
    body = a.source.split("= {\n", 1)[1].split("\n};", 1)[0].split("\n")
    assert len(body) == 3 and body[0].count("0x") == 12 and body[2].count("0x") == 6
    assert "const unsigned int g_x_len = 30;" in a.source
    assert "alignas(16)" in a.source
    assert format_hex_bytes(b"\x00\xff") == "    0x00, 0xff,"


@pytest.mark.parametrize("name", ["1abc", "a-b", "", "int", "class", "_Reserved", "a__b",
                                  "alignas", "g model"])
def test_bad_c_identifiers_are_rejected(name):
    with pytest.raises(ValueError):
        validate_c_identifier(name)
    with pytest.raises(ValueError):
        render_model_data(b"\x00", name)


def test_good_c_identifiers_pass():
    for name in ("g_kws_model", "model1", "_lower_ok", "M"):
        assert validate_c_identifier(name) == name


TABLES = {
    "window_coefs": np.array([-32768, -1, 0, 1, 32767], np.int16),
    "filter_pos": np.array([0, 3, 4294967295], np.uint32),
    "dct_coefs": np.arange(-6, 6, dtype=np.int16).reshape(3, 4),  # stored row-major
    "small": np.array([-128, 127], np.int8),
    "bytes": np.array([0, 255], np.uint8),
    "u16": np.array([65535], np.uint16),
    "i32": np.array([-(2**31), 2**31 - 1, 7], np.int32),
    "gains": np.array([0.1, -2.5e-7, 3.4e38, 1 / 3, 0.0], np.float32),
}


def _table_dump_program(tables: dict, prefix: str) -> str:
    lines = ['#include <stdio.h>', '#include "frontend_tables.h"', "int main(void) {",
             "  int i;"]
    for key, array in tables.items():
        name = prefix + key
        fmt, cast = (("%.9g", "(double)") if array.dtype == np.float32 else ("%lld", "(long long)"))
        lines.append(f'  printf("{key}");')
        lines.append(f"  for (i = 0; i < {name.upper()}_LEN; ++i) "
                     f'printf(" {fmt}", {cast}{name}[i]);')
        lines.append('  printf("\\n");')
    lines += ["  return 0;", "}"]
    return "\n".join(lines) + "\n"


def test_c_arrays_compile_and_hold_the_values(tmp_path):
    src = render_c_arrays(TABLES, prefix="kws_")
    _write(tmp_path, {src.header_name: src.header, src.source_name: src.source,
                      "dump.c": _table_dump_program(TABLES, "kws_")})
    binary = compile_host([tmp_path / "dump.c", tmp_path / src.source_name], tmp_path / "dump",
                          [tmp_path], cxx=False)
    out = run([str(binary)]).decode().strip().split("\n")
    for line, (key, array) in zip(out, TABLES.items(), strict=True):
        name, *values = line.split()
        assert name == key
        if array.dtype == np.float32:
            assert np.array_equal(np.array([np.float32(float(v)) for v in values]),
                                  array.ravel())
        else:
            assert [int(v) for v in values] == array.ravel().tolist()
    # The header also works from C++ (extern "C" links to the C-compiled data)...
    _write(tmp_path, {"use.cc": '#include "frontend_tables.h"\n'
                                "int main() { return kws_small[0] == -128 ? 0 : 1; }\n"})
    host_obj = tmp_path / "tables_host.o"
    run([require_tool("gcc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-c",
         str(tmp_path / src.source_name), "-o", str(host_obj)])
    run([str(compile_host([tmp_path / "use.cc", host_obj], tmp_path / "use", [tmp_path],
                          cxx=True))])
    # ... and the data cross-compiles for the Cortex-M4, into read-only memory.
    obj = tmp_path / "tables.o"
    run([require_tool("arm-none-eabi-gcc"), *ARM_FLAGS, "-std=c11", "-c",
         str(tmp_path / src.source_name), "-o", str(obj)])
    sections = dict(re.findall(r"^(\.\w+)\s+(\d+)",
                               run([require_tool("arm-none-eabi-size"), "-A", str(obj)]).decode(),
                               re.M))
    assert int(sections[".rodata"]) >= sum(a.nbytes for a in TABLES.values())
    assert int(sections[".data"]) == 0


def test_c_arrays_reject_bad_tables():
    with pytest.raises(TypeError, match="float64"):
        render_c_arrays({"x": np.zeros(3)})
    with pytest.raises(ValueError, match="empty"):
        render_c_arrays({"x": np.zeros(0, np.int16)})
    with pytest.raises(ValueError):
        render_c_arrays({"bad-name": np.zeros(1, np.int16)})
    with pytest.raises(ValueError, match="both give macro"):
        render_c_arrays({"ab": np.zeros(1, np.int16), "AB": np.zeros(1, np.int16)})
    with pytest.raises(ValueError):
        c_float_literal(float("inf"))


def test_float_literals_round_trip_exactly():
    for v in (0.1, 1 / 25.6, 0.0078125, 3.4e38, 1e-45, -2.5, 7.0):
        text = c_float_literal(v)
        assert text.endswith("f")
        assert np.float32(text[:-1]) == np.float32(v)
