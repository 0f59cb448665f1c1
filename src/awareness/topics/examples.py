"""Run a topic's test set (``[[examples]]``) and say which examples it gets wrong (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from awareness.subscriptions import Topic, TopicExample
from awareness.topics.explain import explain, lines


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
