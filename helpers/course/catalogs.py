"""The course's gettext catalogs as ``msgmerge`` keeps them: one merge for the notebooks' Markdown
(``translation``) and for the checks' messages (``messages``)."""

from __future__ import annotations

import copy
import difflib

import polib

__all__ = ["FUZZY_SIMILARITY", "merge", "new_catalog"]

# msgmerge's fuzzy matching: a vanished text at least this similar to a new one (difflib's ratio,
# 2·matching characters / both lengths) lends it its translation, marked fuzzy, the old English beside it.
FUZZY_SIMILARITY = 0.6


def new_catalog(project: str, lang: str) -> polib.POFile:
    """An empty catalog of ``project`` in ``lang``, kept one line per source line (``wrapwidth=0``)."""
    for name, value in (("project", project), ("lang", lang)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str; got {type(value).__name__}")
    po = polib.POFile(wrapwidth=0)
    po.metadata = {"Project-Id-Version": f"xai-course {project}", "Language": lang, "MIME-Version": "1.0",
                   "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit"}
    return po


def merge(po: polib.POFile | None, texts: dict[str, list[tuple[str, str]]], new: polib.POFile
          ) -> polib.POFile:
    """``po`` (``None``: none yet, then ``new``; not modified) in step with ``texts`` (English → its
    occurrences), as ``msgmerge`` would: one entry per text in their order; an entry still present keeps its
    translation; a new text gets an empty entry, unless a vanished translated entry is at least
    ``FUZZY_SIMILARITY`` alike (the same text edited): then it starts from that translation, flagged
    ``fuzzy``, the old English kept as its previous msgid (``#| msgid``) for the translator. Vanished
    entries with a translation nobody inherited stay at the end, obsolete (``#~``)."""
    old = [copy.deepcopy(e) for e in po] if po is not None else []
    current = {e.msgid: e for e in old if not e.obsolete}
    obsolete = {e.msgid: e for e in old if e.obsolete}
    vanished = [e for e in old if e.msgid not in texts and e.msgstr]
    out = polib.POFile(wrapwidth=0)
    source = po if po is not None else new
    out.metadata, out.header = dict(source.metadata), source.header
    for text, occurrences in texts.items():
        entry = current.get(text) or obsolete.get(text)
        if entry is None:
            entry = polib.POEntry(msgid=text, msgstr="")
            similar = _most_similar(text, vanished)
            if similar is not None:
                vanished.remove(similar)
                entry.msgstr, entry.flags = similar.msgstr, ["fuzzy"]
                entry.previous_msgid = similar.previous_msgid or similar.msgid
        entry.obsolete, entry.occurrences = False, occurrences
        out.append(entry)
    for entry in vanished:
        entry.obsolete, entry.occurrences = True, []
        out.append(entry)
    return out


def _most_similar(text: str, candidates: list[polib.POEntry]) -> polib.POEntry | None:
    scored = [(difflib.SequenceMatcher(None, text, e.msgid, autojunk=False).ratio(), i)
              for i, e in enumerate(candidates)]
    best = max(scored, default=None)
    return candidates[best[1]] if best and best[0] >= FUZZY_SIMILARITY else None
