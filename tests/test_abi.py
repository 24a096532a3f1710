"""The C headers (numba_rt.include_dir()) and numba_rt.abi describe the same native ABI.

The header side is read two ways: a small C program compiled against the installed headers
prints every constant, struct offset and size and some ncc_hash_int values; and the headers'
text is parsed for the enumerators and integer macros, the struct fields, the node typedefs and
every NCC_API declaration. Each fact is compared both ways with numba_rt.abi; a failure lists
every mismatching fact by name.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import numba_rt
from numba_rt import abi

HASH_KEYS = (0, 1, -1, 2, 7, 42, 1 << 48, -(1 << 63), (1 << 63) - 1, 123456789123)


# -- reading the headers ----------------------------------------------------------------------


def header_text() -> str:
    """Every installed header, comments removed."""
    headers = sorted(Path(numba_rt.include_dir()).glob("*.h"))
    assert headers, f"no headers in {numba_rt.include_dir()}; rebuild with `pip install -e .`"
    text = "\n".join(h.read_text() for h in headers)
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", " ", text)


def code_text() -> str:
    """The headers without comments and preprocessor lines."""
    return re.sub(r"^\s*#.*$", " ", header_text(), flags=re.MULTILINE)


def header_constants() -> set[str]:
    """Names of the enumerators and integer-valued NCC_ macros of the headers."""
    text = header_text()
    names = set(re.findall(r"^\s*#\s*define\s+(NCC_\w+)\s+\(?\s*-?\d+\s*\)?\s*$", text, re.MULTILINE))
    for body in re.findall(r"\benum\s*\w*\s*\{([^}]*)\}", code_text()):
        names |= {item.split("=")[0].strip() for item in body.split(",") if item.strip()}
    return names


def header_structs() -> dict[str, list[tuple[str, str]]]:
    """``typedef struct ncc_x { T field; ... } ncc_x;`` -> [(field, C type)]."""
    structs = {}
    for name, body, alias in re.findall(r"typedef\s+struct\s+(\w+)\s*\{([^}]*)\}\s*(\w+)\s*;", code_text()):
        assert name == alias, f"struct {name} is typedef'd as {alias}"
        structs[name] = [split_declaration(d) for d in body.split(";") if d.strip()]
    return structs


def split_declaration(declaration: str) -> tuple[str, str]:
    """``const ncc_list* list`` -> ("list", "const ncc_list*")."""
    match = re.fullmatch(r"\s*(.*?)\s*\b(\w+)\s*", declaration, flags=re.DOTALL)
    assert match and match.group(1), f"cannot split C declaration {declaration!r}"
    return match.group(2), match.group(1)


_C_SCALARS = {"void": "void", "int8_t": "int8", "int32_t": "int32", "int64_t": "int64", "double": "double"}


def vocabulary(c_type: str) -> str:
    """The numba_rt.abi.TYPES word of a C type (``<C type?>`` when it has none)."""
    t = re.sub(r"\s+", "", re.sub(r"\bconst\b", " ", c_type))
    base = t.rstrip("*")
    stars = len(t) - len(base)
    if stars == 0 and base in _C_SCALARS:
        return _C_SCALARS[base]
    if stars == 1 and base == "char":
        return "str"
    if stars == 1 and base in ("int64_t", "int8_t"):
        return _C_SCALARS[base] + "*"
    if stars == 2 and base == "void":
        return "void**"
    if stars == 1 and base != "char":
        return "ptr"  # void*, ncc_list*, ncc_dict*
    return f"<{c_type.strip()}?>"


def parameters(text: str) -> list[tuple[str, str]]:
    """A C parameter list -> [(name, TYPES word)]."""
    text = text.strip()
    if text in ("", "void"):
        return []
    return [(name, vocabulary(c_type)) for name, c_type in map(split_declaration, text.split(","))]


_PROTOTYPE = re.compile(r"(?<!extern)\s\bNCC_API\s+([\w\s*]+?)\s*\b(\w+)\s*\(([^)]*)\)\s*;")
_DATA = re.compile(r"\bextern\s+NCC_API\s+[\w\s*]+?\b(\w+)\s*\[\s*\]\s*;")


def header_functions() -> dict[str, abi.CFunction]:
    text = code_text()
    found = {}
    for restype, name, params in _PROTOTYPE.findall(text):
        assert name not in found, f"{name} is declared twice in the headers"
        found[name] = abi.CFunction(name, vocabulary(restype), tuple(t for _, t in parameters(params)))
    declared = len(re.findall(r"\bNCC_API\b", text))
    parsed = len(found) + len(_DATA.findall(text))
    assert declared == parsed, f"{declared} NCC_API declarations in the headers but only {parsed} parsed"
    return found


# -- the compiled probe -----------------------------------------------------------------------


def probe_source(constants: set[str], structs: dict[str, list[tuple[str, str]]]) -> str:
    lines = [
        "#include <stddef.h>",
        "#include <stdio.h>",
        '#include "ncc_runtime.h"',
        "int main(void) {",
    ]
    for name in sorted(constants):
        lines.append(f'    printf("const {name} %lld\\n", (long long)({name}));')
    for struct, fields in sorted(structs.items()):
        lines.append(f'    printf("sizeof {struct} %zu\\n", sizeof({struct}));')
        for field, _ in fields:
            lines.append(
                f'    printf("field {struct}.{field} %zu %zu\\n", offsetof({struct}, {field}), '
                f"sizeof((({struct}*)0)->{field}));"
            )
    for key in HASH_KEYS:
        c_key = f"(-{(1 << 63) - 1}LL - 1)" if key == -(1 << 63) else f"{key}LL"
        lines.append(f'    printf("hash {key} %llu\\n", (unsigned long long)ncc_hash_int({c_key}));')
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[int]]:
    """What the compiled header says: ``"const NCC_X"`` / ``"sizeof s"`` / ``"field s.f"`` /
    ``"hash k"`` -> the printed numbers."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler (`cc`) on PATH; one is needed to build the package anyway")
    tmp = tmp_path_factory.mktemp("abi")
    src, exe = tmp / "abi_probe.c", tmp / "abi_probe"
    src.write_text(probe_source(header_constants(), header_structs()))
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{numba_rt.include_dir()}", str(src), "-o", str(exe)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"the ABI probe does not compile:\n{built.stderr}"
    ran = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=True)
    facts = {}
    for line in ran.stdout.splitlines():
        kind, name, *numbers = line.split()
        facts[f"{kind} {name}"] = [int(n) for n in numbers]
    return facts


def check(mismatches: list[str]) -> None:
    if mismatches:
        pytest.fail("C headers and numba_rt.abi disagree:\n  " + "\n  ".join(mismatches))


# -- the tests --------------------------------------------------------------------------------


def test_constants_agree(probe: dict[str, list[int]]) -> None:
    """Phases, fault codes, kinds, flags, slot sentinels and buffer sizes, both ways."""
    header = {name: probe[f"const {name}"][0] for name in header_constants()}
    mismatches = [
        f"{name}: header {header[name]}, numba_rt.abi {value}"
        for name, value in abi.C_CONSTANTS.items()
        if name in header and header[name] != value
    ]
    mismatches += [f"{name} = {header[name]} is in the header, not in numba_rt.abi.C_CONSTANTS" for name in header.keys() - abi.C_CONSTANTS.keys()]
    mismatches += [f"{name} is in numba_rt.abi.C_CONSTANTS, not in the header" for name in abi.C_CONSTANTS.keys() - header.keys()]
    check(mismatches)


def test_named_constants_are_the_c_constants() -> None:
    expected = {
        "NCC_EXECUTE": abi.Phase.EXECUTE, "NCC_START": abi.Phase.START, "NCC_STOP": abi.Phase.STOP,
        "NCC_ERR_EXCEPTION": abi.ErrorCode.EXCEPTION, "NCC_KIND_FLOAT": abi.Kind.FLOAT,
        "NCC_ERROR_MESSAGE_MAX": abi.NCC_ERROR_MESSAGE_MAX, "NCC_ERROR_ENTRY_MAX": abi.NCC_ERROR_ENTRY_MAX,
        "NCC_CONTAINER_READONLY": abi.CONTAINER_READONLY,
        "NCC_SLOT_EMPTY": abi.SLOT_EMPTY, "NCC_SLOT_DELETED": abi.SLOT_DELETED,
    }  # fmt: skip
    assert {name: abi.C_CONSTANTS[name] for name in expected} == expected
    assert len(abi.C_CONSTANTS) == len(abi.Phase) + len(abi.ErrorCode) + len(abi.Kind) + 5


def test_container_layouts_agree(probe: dict[str, list[int]]) -> None:
    """Every field's offset, size and type and every struct's size, both ways."""
    header = header_structs()
    mismatches = [f"struct {s} is in the header, not in numba_rt.abi.STRUCTS" for s in header.keys() - abi.STRUCTS.keys()]
    mismatches += [f"struct {s} is in numba_rt.abi.STRUCTS, not in the header" for s in abi.STRUCTS.keys() - header.keys()]
    for struct in header.keys() & abi.STRUCTS.keys():
        layout, field_types, size = abi.STRUCTS[struct]
        c_fields = dict(header[struct])
        if probe[f"sizeof {struct}"] != [size]:
            mismatches.append(f"sizeof({struct}): header {probe[f'sizeof {struct}'][0]}, numba_rt.abi {size}")
        mismatches += [f"{struct}.{f} is in the header, not in numba_rt.abi" for f in c_fields.keys() - layout.keys()]
        mismatches += [f"{struct}.{f} is in numba_rt.abi, not in the header" for f in layout.keys() - c_fields.keys()]
        assert layout.keys() == field_types.keys(), f"{struct}: offsets and field types name different fields"
        for field in c_fields.keys() & layout.keys():
            offset, width = probe[f"field {struct}.{field}"]
            if offset != layout[field]:
                mismatches.append(f"offsetof({struct}, {field}): header {offset}, numba_rt.abi {layout[field]}")
            if vocabulary(c_fields[field]) != field_types[field]:
                mismatches.append(f"type of {struct}.{field}: header {c_fields[field]!r}, numba_rt.abi {field_types[field]!r}")
            if width != abi.TYPES[field_types[field]].size:
                mismatches.append(f"sizeof({struct}.{field}): header {width}, numba_rt.abi {abi.TYPES[field_types[field]].size}")
    check(mismatches)


def test_hash_agrees(probe: dict[str, list[int]]) -> None:
    mismatches = [
        f"ncc_hash_int({key}): header {probe[f'hash {key}'][0]:#x}, numba_rt.abi.hash_int {abi.hash_int(key):#x}"
        for key in HASH_KEYS
        if probe[f"hash {key}"][0] != abi.hash_int(key)
    ]
    check(mismatches)


def test_functions_agree() -> None:
    """Every NCC_API function is in abi.FUNCTIONS with the same types, and vice versa."""
    header = header_functions()
    table = {fn.name: fn for fn in abi.FUNCTIONS}
    assert len(table) == len(abi.FUNCTIONS), "a function appears twice in numba_rt.abi.FUNCTIONS"
    mismatches = [f"{name} is declared NCC_API in the header, not in numba_rt.abi.FUNCTIONS" for name in sorted(header.keys() - table.keys())]
    mismatches += [f"{name} is in numba_rt.abi.FUNCTIONS, not declared in the header" for name in sorted(table.keys() - header.keys())]
    for name in sorted(header.keys() & table.keys()):
        c, py = header[name], table[name]
        if c.restype != py.restype:
            mismatches.append(f"return type of {name}: header {c.restype!r}, numba_rt.abi {py.restype!r}")
        if c.argtypes != py.argtypes:
            mismatches.append(f"argument types of {name}: header {c.argtypes}, numba_rt.abi {py.argtypes}")
    check(mismatches)


def test_header_reader_sees_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text side is not vacuous: an edited copy of the headers reads differently."""
    for header in Path(numba_rt.include_dir()).glob("*.h"):
        text = header.read_text()
        text = text.replace("NCC_ERR_ALLOC = 6", "NCC_ERR_ALLOC = 6, NCC_ERR_NEW = 7")
        text = text.replace("NCC_API int32_t ncc_error_code(void);", "NCC_API int64_t ncc_error_code(void);")
        (tmp_path / header.name).write_text(text)
    monkeypatch.setattr(numba_rt, "include_dir", lambda: str(tmp_path))
    assert header_constants() - abi.C_CONSTANTS.keys() == {"NCC_ERR_NEW"}
    assert header_functions()["ncc_error_code"].restype == "int64"


def test_exported_data_agree() -> None:
    header = set(_DATA.findall(code_text()))
    assert header == {abi.ENTRY_UNKNOWN_SYMBOL}, f"extern NCC_API data in the header: {header}"
    assert abi.ERROR_SET_SYMBOL in {fn.name for fn in abi.FUNCTIONS}


@pytest.mark.parametrize(
    ("typedef", "params"), [("ncc_node_fn", abi.NODE_PARAMS), ("ncc_host_node_fn", abi.HOST_NODE_PARAMS)]
)
def test_node_signature_agrees(typedef: str, params: tuple[abi.Param, ...]) -> None:
    match = re.search(rf"typedef\s+void\s*\(\s*\*\s*{typedef}\s*\)\s*\(([^)]*)\)\s*;", code_text())
    assert match, f"typedef {typedef} not found in the header"
    assert parameters(match.group(1)) == [tuple(p) for p in params], f"{typedef}: header and numba_rt.abi disagree"


def test_type_vocabulary() -> None:
    for name, t in abi.TYPES.items():
        assert t.name == name
        assert vocabulary(t.c) == name, f"{name}: C spelling {t.c!r} reads back as {vocabulary(t.c)!r}"
        ct = abi.to_ctypes(name)
        assert (ct is None) == (name == "void")
        if ct is not None:
            assert ctypes.sizeof(ct) == t.size, name
    with pytest.raises(ValueError, match="unknown ABI type"):
        abi.to_ctypes("float")


def test_cell_types() -> None:
    assert list(abi.CELL_TYPES) == ["int64", "float64", "int8", "int16", "int32", "ptr", "bytes"]
    assert abi.cell_ctype("int64") is ctypes.c_int64
    assert abi.cell_ctype("float64") is ctypes.c_double
    assert abi.cell_ctype("int8") is ctypes.c_int8
    assert abi.cell_ctype("int16") is ctypes.c_int16
    assert abi.cell_ctype("int32") is ctypes.c_int32
    assert abi.cell_ctype("ptr") is ctypes.c_void_p
    for cell in abi.CELL_TYPES.values():
        if cell.ctype is not None:
            assert cell.size == 8 and ctypes.sizeof(cell.ctype) <= cell.size, cell.name
    assert abi.CELL_TYPES["bytes"].size is None
    with pytest.raises(ValueError, match="no fixed ctypes type"):
        abi.cell_ctype("bytes")
    with pytest.raises(ValueError, match="unknown cell type"):
        abi.cell_ctype("voidptr")


def test_llvm_declarations_parse() -> None:
    llvm = pytest.importorskip("llvmlite.binding")
    assert abi.llvm_declaration("ncc_error_set") == "declare void @ncc_error_set(i32, ptr, ptr)"
    assert abi.llvm_declaration("ncc_list_get") == "declare i32 @ncc_list_get(ptr, i64, ptr)"
    module = llvm.parse_assembly("\n".join(abi.llvm_declaration(fn.name) for fn in abi.FUNCTIONS))
    assert {f.name for f in module.functions} == {fn.name for fn in abi.FUNCTIONS}
    with pytest.raises(KeyError, match="not a function of libnumba_rt"):
        abi.function("ncc_nope")


def test_numba_rt_reexports_the_abi() -> None:
    for name in ("ErrorCode", "Kind", "Phase", "LIST_LAYOUT", "DICT_LAYOUT", "LIST_SIZE", "DICT_SIZE",
                 "CONTAINER_READONLY", "SLOT_EMPTY", "SLOT_DELETED"):  # fmt: skip
        assert getattr(numba_rt, name) is getattr(abi, name), name
        assert name in numba_rt.__all__
    for name in numba_rt.__all__:
        assert hasattr(numba_rt, name), name
    for name in abi.__all__:
        assert hasattr(abi, name), name


def test_ctypes_bindings_come_from_the_table() -> None:
    lib = numba_rt.load().lib
    for fn in abi.FUNCTIONS:
        bound = getattr(lib, fn.name)
        assert bound.restype is abi.to_ctypes(fn.restype), fn.name
        assert list(bound.argtypes) == [abi.to_ctypes(t) for t in fn.argtypes], fn.name


def test_hash_reference() -> None:
    assert abi.hash_int(0) == 0
    assert all(0 <= abi.hash_int(k) < 1 << 64 for k in HASH_KEYS)
