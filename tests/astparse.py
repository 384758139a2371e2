"""ast.parse that survives a CPython 3.11 bug.

In 3.11 the AST constructor's recursion counter is shared by all threads; a
test that leaves a thread behind (a browser driver, aiortc's) can make a later
``ast.parse`` fail with "AST constructor recursion depth mismatch". The parse
is then redone in a fresh interpreter, which has no such thread.
"""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys

_PARSE = ("import ast, pickle, sys; "
          "sys.stdout.buffer.write(pickle.dumps(ast.parse(sys.stdin.read())))")


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, redone in a subprocess if CPython's bug strikes."""
    try:
        return ast.parse(source)
    except SystemError:
        out = subprocess.run([sys.executable, "-c", _PARSE], input=source.encode(),
                             capture_output=True, check=True).stdout
        tree = pickle.loads(out)
        assert isinstance(tree, ast.Module)
        return tree
