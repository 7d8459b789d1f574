"""The compiler: workflow terms -> :class:`~wftrio.compiler.program.Program`.

:func:`compile` lowers a term into a flat, immutable instruction table
(:mod:`wftrio.compiler.program`, pure data); the engine links it into
handlers when a case of it starts.  Imports nothing above the algebra.
"""

from __future__ import annotations

from wftrio.compiler._lower import clear_cache, compile
from wftrio.compiler.program import Instr, Program

__all__ = ["Instr", "Program", "clear_cache", "compile"]
