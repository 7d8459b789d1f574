"""The web console of wftrio (issue #16): pictures of cases, and the app that serves them.

:mod:`wftrio.web._timeline` draws a case from its trace (a timeline and the
workflow graph with the case's progress) as self-contained SVG and HTML,
with no web framework (``wftrio show STORE CASE --html out.html``).
"""
