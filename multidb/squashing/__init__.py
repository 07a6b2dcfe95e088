"""``multidb squash``: replace a database's oldest revisions with one baseline revision.

:mod:`.plan` chooses the revisions and refuses what cannot become one baseline, :mod:`.capture` reads what
a replayed database holds, :mod:`.render` writes the baseline file (with the project's rendering settings,
:mod:`.project_types`) and :mod:`.verify` compares the old history with the new one.
"""
