"""The package's import graph, read from the source (ast), imports inside functions included.

Lower modules never import upper ones: the graph has no cycle. A function imports only what is optional (an extra:
onnxruntime, mlflow, accelerate, playwright) or heavy to import and needed by one function; the package's own modules
are always imported at the top. `python tests/test_imports.py` prints the layers (each module above everything it imports).
"""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1]/'seedling_clf'
LAZY_OK = {  # imported inside the one function that needs it, and why
    'onnxruntime': 'optional: the ONNX engine', 'mlflow': 'optional: the mlflow extra', 'accelerate': 'optional: the distributed extra',
    'playwright': 'optional: browser screenshots', 'fastai': 'heavy: core stays light (run_info only)', 'timm': 'heavy: core stays light (run_info only)',
    'pytorch_grad_cam': 'heavy: starts an OpenCV thread at import (the test zygote forks single-threaded)',
    'sklearn.manifold': 'heavy: t-SNE only', 'sklearn.decomposition': 'heavy: t-SNE only', 'imblearn.over_sampling': 'heavy: SMOTE/ADASYN only',
    'onnxruntime.quantization': 'optional: the ONNX engine', 'onnx': 'optional: the ONNX engine'}


def module_imports(path:Path) -> list:
    "`(module imported, inside a function)` for every import in `path`, relative imports made absolute."
    tree, res = ast.parse(path.read_text()), []
    funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    inner = {id(i) for f in funcs for i in ast.walk(f) if isinstance(i, (ast.Import, ast.ImportFrom))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import): names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            names = [f"{PKG.name}.{base}" if node.level else base] if base else [f"{PKG.name}.{a.name}" for a in node.names]
        else: continue
        res += [(n, id(node) in inner) for n in names]
    return res


def package_modules() -> dict:
    "Module name -> its imports, for every module of the package (`_modidx` left out)."
    return {f"{PKG.name}.{p.stem}": module_imports(p) for p in sorted(PKG.glob('*.py')) if not p.stem.startswith('_')}


def import_graph() -> dict:
    "Module -> the package's modules it imports (at the top or inside functions)."
    mods = package_modules()
    return {m: {n for n, _ in imps if n in mods and n != m} for m, imps in mods.items()}


def layers(graph:dict) -> list:
    "The modules in layers, each above everything it imports; a cycle raises naming its modules."
    done, res = set(), []
    while len(done) < len(graph):
        layer = sorted(m for m, deps in graph.items() if m not in done and deps <= done)
        if not layer: raise AssertionError(f"import cycle among: {sorted(set(graph) - done)}")
        res.append(layer)
        done |= set(layer)
    return res


def test_no_import_cycle():
    assert len(sum(layers(import_graph()), [])) == len(import_graph())


def test_cycle_is_found():
    "The check itself: a graph with a cycle is refused."
    try: layers({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()})
    except AssertionError as e: assert "['a', 'b', 'c']" in str(e)
    else: raise AssertionError('a cycle passed')


def test_function_level_imports_are_optional_or_heavy():
    lazy = {(m, n) for m, imps in package_modules().items() for n, inner in imps if inner}
    bad = sorted((m, n) for m, n in lazy if not any(n == k or n.startswith(k + '.') for k in LAZY_OK))
    assert not bad, f"imports inside functions that should be at the top of their module: {bad}"


if __name__ == '__main__':
    for i, layer in enumerate(layers(import_graph())): print(i, ' '.join(m.split('.')[-1] for m in layer))
