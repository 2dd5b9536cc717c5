"""The import function's own package is importable here as it is in its Lambda bundle."""

import sys
from pathlib import Path

_FUNCTION = str(Path(__file__).resolve().parents[3] / "functions" / "imports")
if _FUNCTION not in sys.path:
    sys.path.insert(0, _FUNCTION)
