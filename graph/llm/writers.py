"""How the offline model writes: one data-to-text writer per prompt template.

Each writer receives the same values the template was filled with (and, for support, the structured
passages), and follows the template's required output format. The text is deterministic: the same
inputs always give the same answer.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph.state import REPORT_SECTIONS

Writer = Callable[[dict[str, Any]], str]

OFFLINE_TAG = "[offline model]"
"""Every offline answer starts with this tag, so nobody mistakes it for a hosted LLM."""

ESCALATION_SENTENCE = "I don't have that information in our knowledge base. Let me escalate this to a specialist."
HELPFUL = "Was this helpful?"
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i if in is it my of on or our the to we what when where "
    "which who why will with you your me us this that there their have has any get".split()
)


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _fmt_number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _table(table: dict[str, Any], max_rows: int = 12) -> list[str]:
    columns = [str(c) for c in table.get("columns", [])]
    rows = table.get("rows", [])[:max_rows]
    if not columns or not rows:
        return []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt_number(v) for v in row) + " |" for row in rows]
    if len(table.get("rows", [])) > max_rows:
        lines.append(f"_…{len(table['rows']) - max_rows} more rows_")
    return lines


def _result_block(result: dict[str, Any]) -> list[str]:
    """Render one structured tool result (headline, facts, table, method, recommendation)."""
    if not isinstance(result, dict):
        return [str(result)]
    if result.get("error"):
        return [f"- **{result.get('tool', 'A tool')} failed:** {result['error']}"]
    lines: list[str] = []
    if result.get("headline"):
        lines.append(f"**{result['headline']}**")
    lines += [f"- {fact}" for fact in result.get("facts", [])]
    if isinstance(result.get("table"), dict):
        lines += ["", *_table(result["table"])]
    if result.get("method"):
        lines.append(f"\n_Method:_ {result['method']}")
    if result.get("recommendation"):
        lines.append(f"\n**Recommendation:** {result['recommendation']}")
    return lines


def write_analysis(values: dict[str, Any]) -> str:
    """Any agent's `analysis_answer`: the tool results, finding first."""
    results = _loads(values.get("results_json", "[]"))
    results = results if isinstance(results, list) else [results]
    lines: list[str] = []
    for result in results:
        if lines:
            lines.append("")
        lines += _result_block(result)
    return "\n".join(lines) if lines else "The tools returned no data for this request."


def write_metric(values: dict[str, Any]) -> str:
    """`finance.metric_calculation`: formula, steps, result, benchmark, recommendation."""
    data = _loads(values.get("data_json", "{}"))
    if not isinstance(data, dict):
        return str(data)
    name = values.get("metric_name", data.get("metric", "Metric"))
    unit = data.get("unit", "")
    result = data.get("result")
    result_text = data.get("result_text") or (
        f"{_fmt_number(result)} {unit}".strip() if result is not None else "not computable"
    )
    lines = [f"**{name} — {values.get('time_period', data.get('period', ''))}**", ""]
    lines.append(f"1. **Formula:** {data.get('formula', 'n/a')}")
    steps = data.get("steps") or []
    lines.append("2. **Step-by-step:**")
    lines += [f"   - {step}" for step in steps] or ["   - (no steps reported)"]
    lines.append(f"3. **Result:** {result_text}")
    if data.get("benchmark"):
        lines.append(f"4. **Benchmark:** {data['benchmark']}")
    if data.get("recommendation") and data.get("status") in ("watch", "concerning"):
        lines.append(f"5. **Recommendation:** {data['recommendation']}")
    elif data.get("status"):
        lines.append(f"5. **Status:** {data['status']} — no action needed.")
    return "\n".join(lines)


def write_forecast(values: dict[str, Any]) -> str:
    """`finance.revenue_forecast`: methodology, point estimate, 80% interval, assumptions."""
    out = _loads(values.get("model_output", "{}"))
    if not isinstance(out, dict):
        return str(out)
    dates = out.get("dates", [])
    mean, lower, upper = out.get("mean", []), out.get("lower", []), out.get("upper", [])
    period = str(values.get("forecast_period", ""))
    lines = [f"**Revenue forecast — {f'next {period}' if period.endswith(' months') else period}**", ""]
    lines.append(f"1. **Methodology:** {out.get('methodology', out.get('method', 'exponential smoothing'))}")
    total = sum(mean) if mean else 0.0
    lines.append(f"2. **Point estimate:** ${total:,.0f} over the period")
    lines.append("3. **80% interval by month:**")
    for d, m, lo, hi in list(zip(dates, mean, lower, upper, strict=False))[:24]:
        lines.append(f"   - {str(d)[:7]}: ${m:,.0f} (80%: ${lo:,.0f} – ${hi:,.0f})")
    lines.append("4. **Key assumptions:**")
    lines.append(f"   - Growth rate: {values.get('growth_rate')}")
    lines.append(f"   - Churn rate: {values.get('churn_rate')}")
    lines.append(f"   - Seasonality: {values.get('seasonality')}")
    if out.get("backtest"):
        lines.append(f"   - Backtest: {out['backtest']}")
    return "\n".join(lines)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _tokens(text: str) -> set[str]:
    return {_stem(t) for t in _WORD.findall(text.lower()) if t not in _STOP}


_FRAME = re.compile(r"\bhow\s+(?:long|much|many|often|soon|quickly|far|late|early)\b|n['’]t\b", re.IGNORECASE)
"""The frame of a question, not its subject: "how long" asks for a duration (a cue, `_QUANTITY_CUES`), and the
"long" of it must not pick a sentence that says "long"; "don't" is no term either."""
_FILLER = frozenset({"want", "know", "tell", "please"})
"""Verbs that frame what the asker wants ("I want to know"), not what the answer is about."""


def _query_terms(query: str) -> set[str]:
    """The question's content terms: its words without stop words, the question's frame and filler verbs."""
    return {t for t in _tokens(_FRAME.sub(" ", query)) if len(t) > 1 and t not in _FILLER}


_QUANTITY_CUES = (
    (
        re.compile(
            r"\b(how long|how many (days|weeks|months|hours)|when|how soon|how quickly|deadline|window)\b", re.I
        ),
        re.compile(
            r"\b\d+(?:\s*-\s*\d+)?(?:\s*|-)(?:business |calendar )?(?:days?|hours?|weeks?|months?|years?)\b", re.I
        ),
    ),
    (re.compile(r"\b(how much|cost|price|pricing|fee|charge|expensive)\b", re.I), re.compile(r"[$€]\s?\d")),
    (re.compile(r"\b(how many|limit|maximum|max|up to)\b", re.I), re.compile(r"\b\d[\d,]*\b")),
    (
        re.compile(r"\b(hours|what time|opening|open|closes?|when)\b", re.I),
        re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b", re.I),
    ),
)


_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_COUNT_WORDS |= {"nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_SPAN = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s*|-)(?:business |calendar )?(day|week|month|year)s?\b"
_ASKED_SPAN = re.compile(rf"\b{_SPAN}", re.IGNORECASE)
_WINDOW = re.compile(
    rf"\b(within|up to|in the first|during the first|after|later than|more than|beyond)\s+(?:the\s+first\s+)?{_SPAN}",
    re.IGNORECASE,
)
_HOW_LONG = re.compile(r"\bhow\s+(?:long|many\s+days)\b", re.IGNORECASE)
_PERIOD = re.compile(
    r"\b(?:within|up to|for|in the first|during the first|by)\s+(?:the\s+first\s+)?"
    r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s*|-)(?:business |calendar )?"
    r"(?:minute|hour|day|week|month|year)s?\b",
    re.IGNORECASE,
)
"""A period a rule allows ("within 30 days", "free for 14 days"): what "how long" asks for, more than a count
("a floor needs 2 installation days")."""
_AFTER_WORDS = frozenset({"after", "later than", "more than", "beyond"})


def _days(count: str, unit: str) -> int:
    number = int(count) if count.isdigit() else _COUNT_WORDS[count.lower()]
    return number * _UNIT_DAYS[unit.lower()]


def _asked_days(query: str) -> int | None:
    """The one time span a question states ("a refund after 3 weeks" → 21 days), if it states exactly one.

    A count in words or digits: "most of a day" or "over a week" is a manner of speaking, not a span to check.
    """
    spans = {_days(count, unit) for count, unit in _ASKED_SPAN.findall(query)}
    return spans.pop() if len(spans) == 1 else None


def _window_fit(sentence: str, days: int) -> int:
    """Whether the sentence's time window covers `days`: +1 yes, -1 no, 0 it states no window.

    "Can I get a refund after 3 weeks?" is answered by the "within 30 days" rule, not by the "after the first
    30 days" one (when some sentence covers the span, `write_support` favours it and sets back the ones that
    exclude it).
    """
    fits = set()
    for word, count, unit in _WINDOW.findall(sentence):
        limit = _days(count, unit)
        fits.add(days > limit if word.lower() in _AFTER_WORDS else days <= limit)
    return 0 if len(fits) != 1 else (1 if fits.pop() else -1)


def _sentence_vectors(sentences: list[str]) -> Any:
    """MiniLM vectors of sentences, cached (the knowledge base's sentences repeat across questions)."""
    from app.embeddings import get_embedder

    return get_embedder().encode_cached(sentences)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One sentence the support answer may quote."""

    rank: int
    """Rank of its passage's document (0 = the best retrieved document)."""
    text: str
    doc: str
    heading: str
    """The last heading of its passage's section path (or the document title)."""
    table: int = -1
    """Index of the table (`_Table`) it is a row of, -1 for prose."""
    context: str = ""
    """The sentence before it, when it starts with a pronoun ("It does not apply to Enterprise contracts"): its
    terms count for it."""


@dataclass(frozen=True, slots=True)
class _Table:
    """A markdown table of a passage, kept whole so an answer can list every row."""

    doc: str
    heading: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lead: str = ""
    """The sentence that introduces it ("At the time of writing Lumio uses:"), if it ends with a colon."""


@dataclass(frozen=True, slots=True)
class SupportWeights:
    """How the extractive support writer scores a sentence.

    Chosen by grid search on the Lumio dev questions, with the passages the graph gives (the top
    document's two best chunks): the answer holds the expected fact for 82.5 % of them (0.751 with the
    earlier weights and one chunk per document); the held-out test questions went from 0.679 to 0.748.
    """

    meaning: float = 0.4
    """Weight of the sentence's cosine to the question."""
    heading: float = 0.15
    """Weight of the cosine of its section heading to the question (a sentence under "Refunds on
    hardware" answers a hardware-refund question even when it does not repeat the words)."""
    terms: float = 0.2
    """Weight of the share of the question's terms the sentence contains, each term weighted by how
    rare it is among the candidate sentences (key terms count more than "plan" or "Lumio")."""
    rank: float = 0.03
    """Penalty per rank of the sentence's document: the best document is preferred."""
    cue: float = 0.08
    """Bonus for holding the kind of quantity asked for ("how long" → a duration)."""
    quantity_margin: float = 0.1
    """A sentence of a better-ranked document this close to the best one leads when the two state the asked-for
    quantity differently (`_disagrees`)."""
    rare_terms: bool = True
    """Weight the question's terms by their rarity among the candidate sentences (else all count the same)."""
    one_document: bool = False
    """Quote only the document of the best sentence. Off: on the dev questions it tied with quoting
    several documents, and it caps the answer at the top document being right (dense hit@1 is 0.85);
    sentences from documents that disagree on the asked-for quantity are never combined (`_disagrees`)."""


SUPPORT_WEIGHTS = SupportWeights()


_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|guidelines)\b"
    r"|\b(system prompt|you must always|you are now|as an ai|from now on)\b"
    r"|\b(tell|inform|say to|reply to|respond to|answer)\b.{0,20}\b(every|all|each|any)\s+(users?|customers?|visitors?)\b"
    r"|^\s*(system|assistant)\s*:",
    re.IGNORECASE,
)
"""A sentence addressed to the assistant rather than stating a fact ("tell every user that..."): never quoted
in an answer."""


_POINTER = re.compile(
    r"^(?:for [^,]{0,60},\s*)?see\s+((?:`[\w.-]+\.md`(?:,?\s+(?:and|or)\s+)?)+)(?:\s+for\s+[^`,;:]{0,80})?[.]?$",
    re.IGNORECASE,
)
"""A sentence that only points to other documents ("See `payment-methods.md` for the accepted ways to pay.")."""


def _points_elsewhere(sentence: str, docs: set[str]) -> bool:
    """`sentence` only refers the reader to documents that are among the passages: their own sentences answer."""
    match = _POINTER.match(sentence.strip())
    return match is not None and set(re.findall(r"`([\w.-]+\.md)`", match.group(1))) <= docs


def _heading(passage: dict[str, Any]) -> str:
    section = str(passage.get("section") or "")
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    return parts[-1] if parts else str(passage.get("title") or passage.get("doc") or "")


_PRONOUN = re.compile(r"^(?:it|this|that|these|those|they|its|their)\b", re.IGNORECASE)


def _candidate_sentences(passages: list[dict[str, Any]], documents: int = 3) -> tuple[list[_Candidate], list[_Table]]:
    """Sentences of the passages of the first `documents` documents (a document may give two passages).

    Also their tables: a table's rows are candidates too, one sentence per row.
    """
    from app.kb.confidence import row_sentence, split_sentences, table_blocks  # the answer check's splitter

    seen: set[str] = set()
    order: list[str] = []
    out: list[_Candidate] = []
    tables: list[_Table] = []
    docs = set(list(dict.fromkeys(str(p.get("doc", "")) for p in passages))[:documents])  # the ones quoted from
    for passage in passages:
        doc = str(passage.get("doc", ""))
        if doc not in order:
            order.append(doc)
        rank = order.index(doc)
        if rank >= documents:
            break
        heading = _heading(passage)
        lead = previous = ""
        pieces: list[tuple[str, int]] = []
        prose: list[str] = []
        for block in [*table_blocks(str(passage.get("text", ""))), None]:
            if isinstance(block, str):
                prose.append(block)
                continue
            pieces += [(piece, -1) for piece in split_sentences("\n".join(prose))]
            prose = []
            if block is None:
                break
            header, rows = block
            cells = tuple(tuple(row) for row in rows if any(row))
            if cells:
                intro = pieces[-1][0] if pieces and pieces[-1][0].endswith(":") else ""
                tables.append(_Table(doc, heading, tuple(header), cells, intro))
                for row in cells:
                    pieces += [(piece, len(tables) - 1) for piece in split_sentences(row_sentence(header, row))]
        for piece, table in pieces:
            sentence = _with_lead_in(lead, piece) if table < 0 else piece
            lead = piece if piece.endswith(":") else lead if sentence != piece else ""
            key = sentence.lower()
            context = previous if table < 0 and _PRONOUN.match(sentence) else ""
            previous = sentence
            if len(sentence.split()) < 4 or sentence.endswith(":") or key in seen or _INSTRUCTION.search(sentence):
                continue  # too short to answer, a lead-in, a repeat, or an instruction planted in a document
            if _points_elsewhere(sentence, docs):
                continue  # "See `x.md` …" while x.md is among the passages: quote x.md itself
            seen.add(key)
            out.append(_Candidate(rank, sentence, doc, heading, table, context))
    return out, tables


def _with_lead_in(lead: str, piece: str) -> str:
    """A list item that continues its lead-in, as one sentence.

    "Battery life is shorter when:" then "the sensor is in a cold place, below about 10 °C;" reads, quoted alone,
    as a fragment; it is quoted as "Battery life is shorter when the sensor is in a cold place, below about 10 °C."
    """
    if not lead or not piece[:1].islower():
        return piece
    return f"{lead.rstrip(':').rstrip()} {piece.rstrip(' ;,.')}."


def _term_weights(query_terms: set[str], candidates: list[_Candidate]) -> dict[str, float]:
    """IDF of each question term over the candidate sentences (terms in no candidate weigh like the rarest)."""
    n = len(candidates)
    counts = dict.fromkeys(query_terms, 0)
    for c in candidates:
        for term in query_terms & _tokens(c.text):
            counts[term] += 1
    return {t: math.log(1 + n / (1 + k)) for t, k in counts.items()}


def _disagrees(a: _Candidate, b: _Candidate, cues: list[re.Pattern[str]]) -> bool:
    """Two sentences from different documents both state the asked-for kind of quantity, differently."""
    if a.doc == b.doc:
        return False
    for cue in cues:
        found_a, found_b = set(cue.findall(a.text)), set(cue.findall(b.text))
        if found_a and found_b and _numbers(a.text) != _numbers(b.text):
            return True
    return False


def _next_in_paragraph(candidates: list[_Candidate], i: int) -> int | None:
    """The candidate right after `i` when it comes from the same passage section (None otherwise).

    A best sentence that stands alone often opens a paragraph whose next sentence holds the how-to: "Lumio
    takes back Lumio devices at the end of their life for recycling." is followed by "Request a free recycling
    label from support@lumio.io." Quoting it when the answer would be one sentence raised the dev questions
    whose answer holds the expected fact from 0.825 to 0.836 (test 0.748 to 0.756).
    """
    j = i + 1
    if j < len(candidates) and (candidates[j].doc, candidates[j].heading) == (candidates[i].doc, candidates[i].heading):
        return j
    return None


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d[\d,.]*", text))


def _outline_answer(candidates: list[_Candidate], scored: list[tuple[float, int, int]], doc: str) -> str:
    """The outline's best section sentences (up to four, 75 words), in the document's order.

    "What is the refund policy?" gets the monthly, annual and hardware rules, not the two sentences that best
    repeat "refund policy".
    """
    from app.kb.chunking import OUTLINE_SECTION

    chosen: list[int] = []
    words = 0
    for _, _, i in scored:
        c = candidates[i]
        if (c.doc, c.heading) != (doc, OUTLINE_SECTION) or len(chosen) >= 4:
            continue
        n_words = len(c.text.split())
        if words + n_words > 75:
            continue
        chosen.append(i)
        words += n_words
    chosen.sort()
    # one rule per line: "Heading: sentence" items run together read as one long run-on sentence
    body = "\n".join(f"- {s if (s := candidates[i].text).endswith(('.', '!', '?')) else s + '.'}" for i in chosen)
    return f"{body}\n\n[{doc}] {HELPFUL}"


_LIST_QUESTION = re.compile(
    r"^\s*(?:(?:what|which|who)\s+(?:are|were)\b|which\b|list\b|name\b"
    r"|what\s+(?:\w+\s+){1,3}(?:do|does|can)\s+(?:you|lumio|i|we)\b)"
    r"|\b(?:prices|limits|options|methods|plans|kinds|types)\b",
    re.IGNORECASE,
)
"""A question that asks for a set of things ("What are the API rate limits?", "Who are your subprocessors?", "What
payment methods do you accept?"): a table that answers it is quoted whole."""
TABLE_WORDS = 85
"""Most words a whole-table answer may take (the answer stays under 100 words with its citations)."""


def _whole_table(query: str, table: _Table, room: int) -> str | None:
    """Every row of the table, each as the passage's own row sentence, in at most `room` words.

    "Plan: Starter; Monthly price: $49/month; …" for each plan. None when the question names some of its rows
    (then those rows answer, as the best sentences) or the table does not fit.
    """
    from app.kb.bm25 import tokenize
    from app.kb.confidence import row_sentence, split_sentences

    asked = set(tokenize(query))
    labels = [set(tokenize(row[0])) for row in table.rows]
    common = set.intersection(*labels) if labels else set()
    named = [i for i, label in enumerate(labels) if (label - common) & asked]
    if named and len(named) < len(table.rows):
        return None
    body = " ".join(s for row in table.rows for s in split_sentences(row_sentence(table.header, row)))
    return body if body and len(body.split()) <= room else None


def _table_answer(
    query: str, candidates: list[_Candidate], tables: list[_Table], near: list[int], cites: str
) -> str | None:
    """A whole-table answer, or None.

    When one of the best sentences (`near`, best first) is a row of a table of the best sentence's own section
    and the question does not pick among its rows, or a question asks for a list and the best sentence's section
    has a table. Quoting the best rows one by one lost the others ("the prices of your plans" without Starter):
    rows read alike, so all but one looked like repeats. The best sentence, when it is not a row, comes first if
    it fits.
    """
    best = candidates[near[0]]
    row = next(
        (
            i
            for i in near
            if candidates[i].table >= 0 and (candidates[i].doc, candidates[i].heading) == (best.doc, best.heading)
        ),
        None,
    )  # a row of the best sentence's own section (or the best sentence itself)
    if row is not None:
        table = tables[candidates[row].table]
    elif _LIST_QUESTION.search(query):
        found = [t for t in tables if (t.doc, t.heading) == (best.doc, best.heading)]
        if not found:
            return None
        table = found[0]
    else:
        return None
    whole = _whole_table(query, table, TABLE_WORDS)
    if whole is None:
        return None
    prose = best.text if best.table < 0 else ""
    if prose and prose not in whole and len(prose.split()) + len(whole.split()) <= TABLE_WORDS:
        whole = f"{prose if prose.endswith(('.', '!', '?')) else prose + '.'} {whole}"
    docs = " ".join(dict.fromkeys(f"[{d}]" for d in (best.doc, table.doc) if prose or d == table.doc))
    return f"{whole} {docs or cites} {HELPFUL}"


def write_support(values: dict[str, Any], weights: SupportWeights = SUPPORT_WEIGHTS) -> str:
    """`support.answer_query`: extractive answer from the best passages, cited, under 100 words.

    Sentences of the passages of the top three documents are scored by meaning (MiniLM cosine to the question), by how
    well their section heading matches the question, by the question's key terms they contain (rare
    terms weigh more), by whether they hold the kind of quantity asked for ("how long" → a duration),
    and by the rank of their document. Up to three sentences within 0.1 of the best make the answer,
    never two from different documents that state the asked-for quantity differently (e.g. a hardware
    and a subscription refund window); when two such documents score alike, the better-retrieved one's figure
    leads. A sentence opening with a pronoun ("It does not apply to Enterprise contracts") counts the terms of
    the sentence before it. A table whose row is among the best sentences (or, for a list question, that sits in
    the best sentence's section) is quoted with every row, unless the question names some of its rows.
    Nothing but the passages' own sentences is used, so no fact can be invented, and instructions
    inside a passage or the question are quoted or ignored, never followed.
    """
    query = str(values.get("query", ""))
    passages: list[dict[str, Any]] = values.get("_passages") or []
    query_terms = _query_terms(query) or _tokens(query)
    candidates, tables = _candidate_sentences(passages)
    if not candidates or not query_terms:
        return f"{ESCALATION_SENTENCE} {HELPFUL}"
    headings = list(dict.fromkeys(c.heading for c in candidates))
    vectors = _sentence_vectors([query] + [c.text for c in candidates] + headings)
    n = len(candidates)
    cosine = vectors[1 : 1 + n] @ vectors[0]
    heading_cos = dict(zip(headings, (vectors[1 + n :] @ vectors[0]).tolist(), strict=True))
    idf = _term_weights(query_terms, candidates) if weights.rare_terms else dict.fromkeys(query_terms, 1.0)
    total = sum(idf.values()) or 1.0
    cues = [answer for ask, answer in _QUANTITY_CUES if ask.search(query)]
    asks_window = bool(_HOW_LONG.search(query))
    asked_days = _asked_days(query)
    fit = [0 if asked_days is None else _window_fit(c.text, asked_days) for c in candidates]
    if 1 not in fit:
        fit = [0] * len(candidates)  # no rule covers the asked span: a rule that excludes it still answers
    scored: list[tuple[float, int, int]] = []
    overlaps: list[float] = []
    for i, c in enumerate(candidates):
        overlap = sum(idf[t] for t in query_terms & _tokens(f"{c.context} {c.text}")) / total
        overlaps.append(overlap)
        cue = weights.cue if any(pattern.search(c.text) for pattern in cues) else 0.0
        cue += weights.cue * fit[i]
        if asks_window and _PERIOD.search(c.text):
            cue += weights.cue  # "how long": the span a rule allows, not a count of days of something else
        score = (
            weights.meaning * float(cosine[i])
            + weights.heading * heading_cos[c.heading]
            + weights.terms * overlap
            + cue
            - weights.rank * c.rank
        )
        scored.append((score, c.rank, i))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    best = scored[0][0]
    if best <= 0.15:
        return f"{ESCALATION_SENTENCE} {HELPFUL}"
    lead = scored[0][2]
    if cues and candidates[lead].rank > 0:
        # Documents that state the asked-for quantity differently, with sentences that score alike: the better
        # retrieved document's figure leads ("how long to return a sensor": the returns policy's 30 days, not
        # the installation guide's "2 installation days")
        rival = next(
            (
                entry
                for entry in scored
                if entry[0] >= best - weights.quantity_margin
                and entry[1] < candidates[lead].rank
                and overlaps[entry[2]] >= 0.5 * overlaps[lead]  # and about as much of what the question asks
                and any(pattern.search(candidates[entry[2]].text) for pattern in cues)
                and _disagrees(candidates[entry[2]], candidates[lead], cues)
            ),
            None,
        )
        if rival is not None:
            scored.remove(rival)
            scored.insert(0, (best, rival[1], rival[2]))
    doc = candidates[scored[0][2]].doc
    from app.kb.chunking import OUTLINE_SECTION

    if passages[0].get("section") != OUTLINE_SECTION and (
        tabled := _table_answer(
            query, candidates, tables, [i for score, _, i in scored[:3] if score >= best - 0.1], f"[{doc}]"
        )
    ):
        return tabled

    if passages[0].get("section") == OUTLINE_SECTION:  # a question about the whole document: its outline
        return _outline_answer(candidates, scored, str(passages[0].get("doc", "")))
    chosen: list[int] = []
    words = 0
    from app.kb.ingest import REVIEWED_FOLDER

    if doc.startswith(f"{REVIEWED_FOLDER}/"):  # a reviewer's answer to this question: quoted whole, as written
        written = " ".join(
            dict.fromkeys(" ".join(str(p.get("text", "")).split()) for p in passages if str(p.get("doc", "")) == doc)
        ).strip()
        if written and len(written.split()) <= 90 and not _INSTRUCTION.search(written):
            return f"{written} [{doc}] {HELPFUL}"  # every sentence, "Yes." included
    for score, _, i in scored:
        if chosen and (score < best - 0.1 or len(chosen) >= 3):
            break
        if weights.one_document and candidates[i].doc != doc:
            continue  # one source per answer
        if any(_disagrees(candidates[i], candidates[j], cues) for j in chosen):
            continue  # another document gives a different figure for what was asked: keep the best one
        if any(float(vectors[1 + i] @ vectors[1 + j]) > 0.85 for j in chosen):
            continue  # says the same thing again
        n_words = len(candidates[i].text.split())
        if chosen and words + n_words > 70:
            continue
        chosen.append(i)
        words += n_words
    if len(chosen) == 1 and (follow := _next_in_paragraph(candidates, chosen[0])) is not None:
        if words + len(candidates[follow].text.split()) <= 70:
            chosen.append(follow)  # a lone sentence often only opens what the next one says how to do
    chosen.sort(key=lambda i: (candidates[i].rank, i))  # in the documents' own order, which reads better
    body = " ".join(s if (s := candidates[i].text).endswith((".", "!", "?")) else s + "." for i in chosen)
    cites = " ".join(f"[{d}]" for d in dict.fromkeys(candidates[i].doc for i in chosen))
    return f"{body} {cites} {HELPFUL}"


def write_campaign(values: dict[str, Any]) -> str:
    """`marketing.campaign_generation`: concept, three key messages, CTA, success metrics."""
    segment = values.get("target_segment", "your customers")
    data = _loads(values.get("segment_data", "{}"))
    data = data if isinstance(data, dict) else {}
    facts = data.get("facts", [])
    goal = values.get("campaign_goal", "re-engagement")
    product = values.get("product_name", "Lumio")
    lines = [f"**{str(values.get('campaign_type', 'Email')).title()} campaign for {segment}**", ""]
    lines.append(
        f"1. **Concept:** A data-backed {values.get('campaign_type', 'email')} series that shows {segment} what "
        f"{product} can do for them next. Goal: {str(goal).rstrip('.?!')}. "
        f"Budget: ${_fmt_number(values.get('budget'))}."
    )
    lines.append("2. **Key messages:**")
    messages = [str(m) for m in data.get("key_messages") or []] or [
        f"You already rely on {product}: here is what your data says since your last order.",
        "Small changes, measurable results: one practical step you can take this week.",
        "What teams like yours measure first, and what they changed.",
    ]
    lines += [f"   - {m}" for m in messages]
    lines.append(f"3. **Call to action:** {data.get('cta', 'Book a 15-minute review and claim your offer')}")
    metrics = data.get("success_metrics") or (
        "open rate, click-through rate, reactivation (orders within 30 days), revenue per recipient vs a 10% hold-out"
    )
    lines.append(f"4. **Success metrics:** {metrics}")
    if facts:
        lines.append("\n_Segment data:_ " + "; ".join(str(f) for f in facts[:4]))
    return "\n".join(lines)


_EMAIL_SUBJECT_MAX = 50
"""Brand voice: subject lines of 50 characters or fewer."""
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _email_date(value: Any) -> str | None:
    """A date the brand's way ("March 4"); ISO dates are converted, anything else is kept as given."""
    if not value:
        return None
    text = str(value)
    if _ISO_DATE.match(text):
        from graph.tools.marketing import brand_date

        return brand_date(text)
    return text


def _email_subject(text: str, fallback: str) -> str:
    """Sentence case, no "!", at most 50 characters (else the fallback)."""
    text = text.replace("!", "").strip()
    text = text[:1].upper() + text[1:]
    return text if len(text) <= _EMAIL_SUBJECT_MAX else fallback


def _email_footer(values: dict[str, Any]) -> list[str]:
    """Sign-off by a named person with their role, the company address and the unsubscribe link.

    The wording is `app.mail`'s, the same the outbox re-appends to an edit that lost it
    (`app.mail.with_compliance_footer`), so a draft never gets a second footer.
    """
    from app.mail import ADDRESS_US, SENDER_NAME, SENDER_ROLE, sign_off, unsubscribe_line, unsubscribe_url

    name = values.get("sender_name") or SENDER_NAME
    role = values.get("sender_role") or SENDER_ROLE
    unsubscribe = values.get("unsubscribe_url") or unsubscribe_url(str(values.get("customer_id", "")))
    return [sign_off(name, role), f"{values.get('address') or ADDRESS_US}\n{unsubscribe_line(unsubscribe)}"]


def _purpose_subject(purpose: str) -> str:
    """A subject for an email with a stated purpose: "invite you to our webinar" → "An invitation to our webinar"."""
    verb, _, rest = purpose.partition(" ")
    if verb == "invite" and rest.startswith("you to "):
        return _email_subject(f"An invitation to {rest.removeprefix('you to ')}", "An invitation from Lumio")
    if verb == "thank":
        return "Thank you from Lumio"
    if verb in ("announce", "introduce") and rest:
        return _email_subject(f"Introducing {rest.removesuffix(' to you')}", "News from Lumio")
    return "A note from Lumio"


def _purpose_email(values: dict[str, Any], name: str) -> str:
    """A short email for its stated purpose (an invitation, an announcement, a thank-you), with no offer.

    It says what it is for in the requester's words and invents nothing else (no date, time or figures):
    the reader replies for the details.
    """
    purpose = str(values["purpose"]).rstrip(".")
    invitation = purpose.startswith("invite ")
    paragraphs = [
        f"I'm writing to {purpose}.",
        "Reply to this email and I'll send you the date, the time and the link to join."
        if invitation
        else "If you have any questions, reply to this email and I'll get back to you.",
    ]
    cta = "→ Save your seat" if invitation else "→ Reply to this email"
    subject = _purpose_subject(purpose)
    return "\n\n".join([f"Subject: {subject}", f"Hi {name},", *paragraphs, cta, *_email_footer(values)])


def write_email(values: dict[str, Any]) -> str:
    """`marketing.email_draft`, following the Lumio email structure and win-back policy (brand-voice.md).

    A cancelled account (`winback` = `offer` or `reminder`) gets a win-back email that leads with its own data
    (the date until which it is kept), states at most one incentive (`offer`, a free month of its plan) with its
    real deadline, and points to Settings → Billing → Choose plan; any other customer gets a short note on what
    they bought, with no offer. Every email: subject of 50 characters or fewer in sentence case, "Hi <first
    name>," a signature by a named person with their role, the address and an unsubscribe link, dates written
    "March 4". An email with a stated `purpose` (an invitation to a webinar) is written for that purpose instead.
    """
    name = str(values.get("customer_name") or "there").split(" ")[0] or "there"
    if values.get("purpose"):
        return _purpose_email(values, name)
    kind = values.get("winback")
    plan = str(values.get("plan") or "Lumio Cloud")
    if kind in ("offer", "reminder"):
        kept = _email_date(values.get("data_kept_until"))
        churned = _email_date(values.get("churned_on"))
        path = values.get("reactivation_path") or "Settings → Billing → Choose plan"
        subject = f"Your Lumio data is kept until {kept}" if kept else f"Your {plan} account is ready when you are"
        opening = (
            f"You cancelled your {plan} plan on {churned}, and your Lumio data is kept until {kept}: "
            "your dashboards, sensors, floor plans, users and settings are all still there."
            if churned and kept
            else f"Your {plan} account and its data are still there."
        )
        paragraphs = [opening]
        deadline = _email_date(values.get("offer_deadline"))
        if kind == "offer" and values.get("offer") and deadline:
            paragraphs.append(
                f"If you would like to pick up where you left off, choose a plan by {deadline} and you get "
                f"{values['offer']}. That is the whole offer: no code to enter, nothing else to buy."
            )
            kept_iso, deadline_iso = str(values.get("data_kept_until")), str(values.get("offer_deadline"))
            if _ISO_DATE.match(kept_iso) and _ISO_DATE.match(deadline_iso) and kept_iso < deadline_iso:
                paragraphs.append(f"Your data is only kept until {kept}, so come back before then to keep it.")
        else:
            reason = str(values.get("winback_reason") or "")
            extra = (
                " Your nonprofit or education discount applies again when you come back."
                if "discount" in reason
                else ""
            )
            paragraphs.append(
                "For 90 days after cancelling, you can reactivate the account and everything comes back as it was; "
                f"after that, the data is permanently deleted.{extra}"
            )
        paragraphs.append(f"Reactivating takes one step: {path}. Your dashboards come back exactly as you left them.")
        cta = "→ Choose your plan"
    else:
        last = values.get("last_product") or "your Lumio hardware"
        when = _email_date(values.get("last_purchase_date")) or "your last order"
        rec = values.get("recommended") or values.get("recommended_product") or "Lumio Air"
        subject = _email_subject(f"More from your {last}", "More from your Lumio sensors")
        paragraphs = [
            f"Since you added {last} on {when}, your {plan} dashboards have been counting how your spaces are used.",
            f"Teams that run {last} often add {rec} to see the full picture, from room occupancy to air quality.",
            "If it would help, I can walk you through what your data shows so far in a short call.",
        ]
        cta = "→ Book a 20-minute call"
    subject = _email_subject(subject, f"Your {plan} account")
    return "\n\n".join([f"Subject: {subject}", f"Hi {name},", *paragraphs, cta, *_email_footer(values)])


def write_section(values: dict[str, Any]) -> str:
    """`supervisor.report_section`: one agent's section of the weekly report, from its tool results."""
    return write_analysis(values)


def _untagged(text: str) -> str:
    text = text.strip()
    return text[len(OFFLINE_TAG) :].lstrip() if text.startswith(OFFLINE_TAG) else text


def write_report(values: dict[str, Any]) -> str:
    """`supervisor.weekly_report`: headline plus one section per agent (as the agent wrote it), failures named."""
    sections = _loads(values.get("sections_json", "{}"))
    sections = sections if isinstance(sections, dict) else {}
    titles = REPORT_SECTIONS
    headline = [
        s["results"][0]["headline"]
        for s in sections.values()
        if isinstance(s, dict) and s.get("ok") and s.get("results") and s["results"][0].get("headline")
    ]
    lines = [f"# Weekly GTM report — {values.get('period', '')}", "", "## Headline"]
    lines += [f"- {h}" for h in headline[:3]] or ["- No section produced results."]
    for agent, title in titles.items():
        section = sections.get(agent)
        lines += ["", f"## {title}"]
        if not isinstance(section, dict):
            lines.append("_Not run._")
        elif not section.get("ok"):
            lines.append(f"⚠️ This section failed: {section.get('error', 'unknown error')}")
        elif section.get("summary"):
            lines.append(_untagged(str(section["summary"])))
        else:
            for result in section.get("results", []):
                lines += _result_block(result)
    return "\n".join(lines)


WRITERS: dict[str, Writer] = {
    "marketing.analysis_answer": write_analysis,
    "finance.analysis_answer": write_analysis,
    "insights.analysis_answer": write_analysis,
    "support.analysis_answer": write_analysis,
    "finance.metric_calculation": write_metric,
    "finance.revenue_forecast": write_forecast,
    "support.answer_query": write_support,
    "marketing.campaign_generation": write_campaign,
    "marketing.email_draft": write_email,
    "supervisor.report_section": write_section,
    "supervisor.weekly_report": write_report,
}
"""The writer for each `<file>.<prompt>` task."""
