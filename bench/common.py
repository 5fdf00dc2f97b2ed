"What the benchmark scripts share: where the full data is (the library itself knows only the bundled sample)."
import os
from pathlib import Path

def full_data_path() -> Path|None:
    "The full plant-seedlings data if present: `$SEEDLING_DATA`, else `shared/data/plant-seedlings-150` in or above the current folder or this one."
    if os.environ.get('SEEDLING_DATA'): return Path(os.environ['SEEDLING_DATA'])
    for d in [Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent, *Path(__file__).resolve().parents]:
        p = d/'shared'/'data'/'plant-seedlings-150'
        if (p/'train').is_dir(): return p
    return None
