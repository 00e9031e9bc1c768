"""The exported names, the stubs of the compiled core, and import-time behaviour."""

import ast
import pathlib
import subprocess
import sys

import dejacache
from dejacache import _core


def test_all_lists_exactly_the_public_names():
    lazy = set(dejacache._LAZY)  # cached in the module's globals once used
    public = {n for n in vars(dejacache) if not n.startswith("_") and not isinstance(getattr(dejacache, n), type(sys))}
    assert public - lazy == set(dejacache.__all__) - {"__version__"} - lazy
    for name in dejacache.__all__:
        assert getattr(dejacache, name) is not None, name


def test_stubs_match_the_compiled_core():
    stub = ast.parse(pathlib.Path(_core.__file__).with_name("_core.pyi").read_text())
    for node in stub.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            assert hasattr(_core, node.name), f"_core.pyi names {node.name}, the binary lacks it"
        if isinstance(node, ast.ClassDef):
            cls = getattr(_core, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("__"):
                    assert hasattr(cls, item.name), f"{node.name}.{item.name} is stubbed but missing"
    stubbed = {n.name for n in stub.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    compiled = {n for n in dir(_core) if not n.startswith("_") and callable(getattr(_core, n))}
    assert compiled <= stubbed, f"compiled names without stubs: {compiled - stubbed}"


def test_import_touches_no_network_and_loads_no_optional_dependency():
    code = (
        "import sys, socket\n"
        "def deny(*a, **k): raise AssertionError('network touched at import')\n"
        "socket.socket.connect = deny\n"
        "import dejacache\n"
        "heavy = [m for m in ('openai', 'anthropic', 'onnxruntime', 'tokenizers', 'redis', 'httpx', 'yaml', 'rich') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_comes_from_cargo():
    assert dejacache.__version__ == _core.__version__
