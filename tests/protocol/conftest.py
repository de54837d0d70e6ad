"""Make ``protocol_support`` importable under ``--import-mode=importlib``.

pytest's importlib mode puts no test folder on ``sys.path``; the shared
helpers of these tests live beside them, so this folder is added here.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
