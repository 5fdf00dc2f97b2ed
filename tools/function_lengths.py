"""The longest functions in seedling_clf/ (lines from `def` to the end of the body): fails if any is over the limit.

    python tools/function_lengths.py [--limit 50] [--top 5] [FOLDER]
"""
import argparse, ast, sys
from pathlib import Path

def function_lengths(folder:Path) -> list:
    "`(lines, 'file:line name')` for every function and method under `folder`, longest first."
    res = []
    for f in sorted(Path(folder).glob('*.py')):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                res.append((node.end_lineno - node.lineno + 1, f"{f.name}:{node.lineno} {node.name}"))
    return sorted(res, reverse=True)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('folder', nargs='?', default=Path(__file__).resolve().parents[1]/'seedling_clf')
    p.add_argument('--limit', type=int, default=50); p.add_argument('--top', type=int, default=5)
    a = p.parse_args()
    lens = function_lengths(a.folder)
    for n, where in lens[:a.top]: print(f"{n:4d}  {where}")
    over = [o for o in lens if o[0] > a.limit]
    if over: sys.exit(f"{len(over)} function(s) longer than {a.limit} lines")
