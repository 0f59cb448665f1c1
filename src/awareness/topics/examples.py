"""Run a topic's test set (``[[examples]]``) and say which examples it gets wrong (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from awareness.model import ItemText
from awareness.subscriptions import Topic, TopicExample
from awareness.topics.explain import explain, lines
from awareness.topics.query import Query


@dataclass(frozen=True)
class ExampleFailure:
    """An example the topic's query gets wrong, with the explanation of what it did."""

    topic: str
    index: int  # 1-based, as in "examples #2"
    example: TopicExample
    explanation: tuple[str, ...]

    def message(self) -> str:
        """``examples #2: expected a match for "Title", but …`` followed by the explanation."""
        wanted = "a match" if self.example.expect == "match" else "no match"
        got = "it did not match" if self.example.expect == "match" else "it matched"
        head = f'examples #{self.index}: expected {wanted} for "{self.example.title}", but {got}'
        return "\n".join([head, *("    " + line for line in self.explanation)])


def run_examples(topic: Topic) -> list[ExampleFailure]:
    """Every example of ``topic`` whose outcome differs from its ``expect``."""
    failures = []
    for index, example in enumerate(topic.examples, 1):
        matched = bool(topic.query.match(example.item()))
        if matched != (example.expect == "match"):
            explanation = tuple(lines(explain(topic.query, example.item())))
            failures.append(ExampleFailure(topic.slug, index, example, explanation))
    return failures


def shortest(query: Query, item: ItemText) -> ItemText:
    """``item`` with only the fields ``query`` needs to match it, for a test set a librarian
    can read: the title alone if that matches, else with the summary, else the whole item
    (its categories and publisher too). An item the query does not match comes back whole."""
    for fewer in (ItemText(item.title), replace(item, categories=(), source="")):
        if query.match(fewer):
            return fewer
    return item
