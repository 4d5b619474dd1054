"""The course's tooling: exercise checks, homework data, nbgrader marking, the teaching release.

It sits beside the library, not inside it: nothing in ``helpers`` outside this package imports it. The
notebooks use ``grading`` and ``homework``; the instructor's commands are modules run with ``python -m``.

    from helpers.course import grading, homework     # in a notebook

    python -m helpers.course.marking notebooks/*.ipynb          # nbgrader metadata and points lines
    python -m helpers.course.execute notebooks/*.ipynb          # re-execute, save the outputs
    python -m helpers.course.release --out DIR [--execute]      # student and solution notebooks
    python -m helpers.course.hw6_server --checkpoint PATH --port 0   # homework 6's private black box

Modules (each one's ``__all__`` is what the others may use of it; none reaches for another's ``_names``):

- ``exercises``: what the notebooks check, one entry per task: ``EXERCISES`` (per function exercise its
  reference, its visible and its hidden test cases, its tolerance and its points) and ``QUESTIONS``
  (homework 5's value questions, with their points).
- ``grading``: ``check`` (an exercise or a question), ``judge`` and ``judge_points`` (homework 6).
- ``homework``: the homework notebooks' fixed data, answer key and baselines.
- ``hw6_server``: homework 6's private black box, served from another process;
- ``hw6_client``: ``RemoteBlackBox``, that box seen from a student's kernel (an address and nothing else).
- ``marking``: ``POINTS`` and the nbgrader cell metadata read off the cells.
- ``execute``: run a notebook in a fresh kernel and save its outputs (``make notebooks``).
- ``release``: solution notebooks → student notebooks (``make release``).
- ``catalogs``: the gettext catalogs' msgmerge, shared by ``translation`` and ``messages``.
- ``mainland``: 繁體 → 简体, OpenCC's ``tw2sp`` with the reviewed overrides of ``i18n/zh_CN_overrides.tsv``.
- ``language``: the language of the checks' messages (``HELPERS_LANG``, else the notebook's folder ``zh-TW/``
  or ``zh-CN/``, else English) and ``_``, which translates a message with the stdlib's ``gettext``.
- ``messages``: the catalog of those messages, ``i18n/zh_TW/grading.po``, kept in step with the code and
  compiled to ``locale/LANG/LC_MESSAGES/grading.mo`` (by ``translation``'s ``update``, ``build``, ``check``).
- ``translation``: the Chinese editions — catalogs kept in step with the notebooks, the editions built from
  them (``make notebooks``; ``python -m helpers.course.translation {update,build,check}``).

This file imports none of them: ``python -m helpers.course.release`` must find its module not yet
imported, and a notebook that checks an exercise need not load the release's nbconvert.
"""

__all__ = ["catalogs", "exercises", "execute", "grading", "homework", "hw6_client", "hw6_server", "language",
           "mainland", "marking", "messages", "release", "translation"]
