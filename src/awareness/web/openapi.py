"""The OpenAPI 3.1 document of the JSON API (``/api/v1/openapi.json``; docs/api.md).

Written by hand, not generated from the routes, so that ``tests/test_api.py`` can compare
the two: a route missing here, or a path here with no route, fails the test.
"""

from __future__ import annotations

from typing import Any

from awareness.review import READER_NOTE_LIMIT

Schema = dict[str, Any]

TEXT: Schema = {"type": "string"}
MAYBE_TEXT: Schema = {"type": ["string", "null"]}
WHEN: Schema = {"type": "string", "format": "date-time"}
MAYBE_WHEN: Schema = {"type": ["string", "null"], "format": "date-time"}
WHOLE: Schema = {"type": "integer"}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _object(required: dict[str, Schema], description: str = "") -> Schema:
    """An object with these fields always present; others may be added in later versions."""
    schema: Schema = {"type": "object", "required": sorted(required), "properties": required}
    return {**schema, "description": description} if description else schema


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Schema] = {
    "Error": _object({"error": TEXT}, "What went wrong, in a sentence."),
    "Item": _object({"id": WHOLE, "source_id": TEXT, "title": TEXT, "link": MAYBE_TEXT,
                     "published_at": MAYBE_WHEN, "first_seen_at": WHEN},
                    "A stored item."),
    "ItemDetail": _object({"id": WHOLE, "title": TEXT, "publisher": TEXT,
                           "matches": {"type": "array", "items": _ref("Match")},
                           "siblings": {"type": "array", "items": {"type": "object"}}},
                          "One item with its matches and the same document from other "
                          "publishers."),
    "Match": _object({"id": WHOLE, "topic_slug": TEXT, "status": {
        "enum": ["pending", "approved", "rejected", "auto"]}, "score": {"type": "number"},
        "item_id": WHOLE, "title": TEXT, "link": MAYBE_TEXT, "reader_note": TEXT,
        "drivers": {"type": "array", "items": {"type": "object"}}},
        "A topic's match on an item, with its linked driver records."),
    "Review": _object({"librarian": TEXT, "decision": {"enum": ["approved", "rejected"]},
                       "note": TEXT, "decided_at": WHEN},
                      "One decision in a match's review log; the note is for librarians "
                      "only."),
    "Topic": _object({"slug": TEXT, "title": TEXT, "query": TEXT, "review": TEXT,
                      "matches_per_week": {"type": "array", "items": WHOLE},
                      "pending": WHOLE}),
    "Source": _object({"id": TEXT, "name": TEXT, "state": TEXT, "error_count": WHOLE,
                       "failing": {"type": "boolean"}, "stale": {"type": "boolean"}},
                      "A source's fetch health, as `awareness sources list --json` prints it."),
    "Driver": _object({"slug": TEXT, "kind": TEXT, "status": TEXT, "title": TEXT,
                       "link": TEXT, "review_due_on": MAYBE_TEXT,
                       "gone_from_site_at": MAYBE_WHEN},
                      "A driver or case-study record, drafts included; "
                      "`gone_from_site_at`: since when its page on the MAP site answers "
                      "404 or 410 (the record is kept)."),
    "Subscriber": _object({"id": {"type": ["integer", "null"]}, "email": TEXT, "status": TEXT,
                           "topics": {"type": "array", "items": TEXT},
                           "bulletins": {"type": "boolean"},
                           "gets_nothing": {"type": "boolean"}},
                          "A subscriber or a pending sign-up (id null). Personal data. "
                          "`topics` is empty for someone who chose the library's bulletins "
                          "alone (`bulletins` true); `gets_nothing` is true for an active "
                          "(or paused) subscriber nothing can be sent to: the bulletins "
                          "alone while no bulletin goes to subscribers."),
    "Bulletin": _object({"slug": TEXT, "title": TEXT, "send_day": TEXT, "send_time": TEXT,
                         "topics": {"type": "array", "items": TEXT}}),
    "Issue": _object({"number": WHOLE, "bulletin": TEXT, "status": TEXT, "due_at": WHEN,
                      "sent_at": MAYBE_WHEN}),
    "Decision": {
        "type": "object", "additionalProperties": False,
        "description": "Both notes are optional; an empty body is a decision without notes.",
        "properties": {
            "note": {"type": "string", "maxLength": 2000,
                     "description": "For the review log: librarians only, never sent."},
            "reader_note": {"type": ["string", "null"], "maxLength": READER_NOTE_LIMIT,
                            "description": "Shown to readers in digests; null leaves it "
                                           "as it is."}}},
}

LIMIT: Schema = {"name": "limit", "in": "query", "required": False,
                 "description": "How many rows a page holds.",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}
OFFSET: Schema = {"name": "offset", "in": "query", "required": False,
                  "description": "How many rows to skip: the previous page's next_offset.",
                  "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000,
                             "default": 0}}


def _path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_param(name: str, description: str, schema: Schema = TEXT) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


NOT_FOUND = _json(_ref("Error"), "There is no such thing.")
ERRORS = {
    "400": _json(_ref("Error"), "A parameter is wrong; the error says which."),
    "401": _json(_ref("Error"), "No valid token: missing, unknown or revoked alike."),
}


def _listing(summary: str, schema: str, *extra: Schema, not_found: bool = False) -> Schema:
    page = _object({"data": {"type": "array", "items": _ref(schema)},
                    "limit": WHOLE, "offset": WHOLE,
                    "next_offset": {"type": ["integer", "null"]}},
                   "A page: next_offset is the offset of the next page, null on the last.")
    return {"get": {"summary": summary, "parameters": [*extra, LIMIT, OFFSET],
                    "responses": {"200": _json(page, "A page of rows."), **ERRORS,
                                  **({"404": NOT_FOUND} if not_found else {})}}}


def _one(summary: str, schema: Schema, *params: Schema) -> Schema:
    return {"get": {"summary": summary, "parameters": list(params),
                    "responses": {"200": _json(schema, "Found."), **ERRORS,
                                  "404": NOT_FOUND}}}


def _decision(verb: str) -> Schema:
    return {"post": {
        "summary": f"{verb.capitalize()} a match, recorded under the token's librarian.",
        "parameters": [_path_param("match_id", ID)],
        "requestBody": {"required": False,
                        "content": {"application/json": {"schema": _ref("Decision")}}},
        "responses": {"200": _json(_match_with_log(), "The match and its review log after "
                                                      "the decision."),
                      **ERRORS, "404": _json(_ref("Error"), "There is no such match.")}}}


def _match_with_log() -> Schema:
    return {"allOf": [_ref("Match"), _object({"reviews": {"type": "array",
                                                          "items": _ref("Review")}})]}


def paths() -> dict[str, Schema]:
    """Every path of the API, as the app serves it."""
    slug = _path_param("slug", TEXT)
    return {
        "/api/v1/openapi.json": {"get": {
            "summary": "This document.", "security": [],
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {}}}}}},
        "/api/v1/items": _listing(
            "Stored items, newest first by publication date (undated: by first seen).", "Item",
            _query_param("source", "Only this source's items (its id).")),
        "/api/v1/items/{item_id}": _one("One item, its matches and story siblings.",
                                        _ref("ItemDetail"), _path_param("item_id", ID)),
        "/api/v1/matches": _listing(
            "Matches, newest first.", "Match",
            _query_param("status", "Only matches with this status.",
                         {"enum": ["pending", "approved", "rejected", "auto"]}),
            _query_param("topic", "Only this topic's matches (its slug).")),
        "/api/v1/matches/{match_id}": _one("One match and its review log.", _match_with_log(),
                                           _path_param("match_id", ID)),
        "/api/v1/matches/{match_id}/approve": _decision("approve"),
        "/api/v1/matches/{match_id}/reject": _decision("reject"),
        "/api/v1/topics": _listing("Topics by title, with test sets and weekly matches.",
                                   "Topic"),
        "/api/v1/sources": _listing("Every source's fetch health.", "Source"),
        "/api/v1/drivers": _listing("Driver and case-study records by title, drafts "
                                    "included.", "Driver"),
        "/api/v1/drivers/{slug}": _one("One record with its linked items and history.",
                                       _ref("Driver"), slug),
        "/api/v1/subscribers": _listing(
            "Pending sign-ups, then subscribers, by address.", "Subscriber",
            _query_param("status", "Only people with this status.")),
        "/api/v1/subscribers/{subscriber_id}": _one(
            "One subscriber.", _ref("Subscriber"), _path_param("subscriber_id", ID)),
        "/api/v1/bulletins": _listing("Every bulletin's definition.", "Bulletin"),
        "/api/v1/bulletins/{slug}/issues": {
            "get": {**_listing("A bulletin's issues, newest first.", "Issue",
                               not_found=True)["get"],
                    "parameters": [slug, LIMIT, OFFSET]}},
    }


def document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "awareness", "version": "1",
                 "description": "The librarians' JSON API. Listings page with limit and "
                                "offset. Every operation but this document needs a "
                                "librarian's API token (`awareness librarians token NAME`)."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {
                "type": "http", "scheme": "bearer",
                "description": "A librarian's API token, aw_ and 43 more characters."}}},
    }
