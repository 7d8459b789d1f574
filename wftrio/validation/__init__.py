"""The validator's machinery; the public surface is :mod:`wftrio.validate`.

* :mod:`~wftrio.validation.issues`: :class:`Issue`, :class:`Step`, the codes;
* :mod:`~wftrio.validation.structural`: WF1xx checks on the term;
* :mod:`~wftrio.validation.abstract`: the data abstraction (a relinked
  Program whose user callables ask an oracle);
* :mod:`~wftrio.validation.clone`: copying an execution state;
* :mod:`~wftrio.validation.statekey`: canonical state keys;
* :mod:`~wftrio.validation.explore`: bounded exploration on the real reducer;
* :mod:`~wftrio.validation.findings`: WF2xx findings from the state graph.
"""

from __future__ import annotations
