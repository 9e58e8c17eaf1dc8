"""The API's JSON parser: DRF's, with a nesting limit, so deeply nested JSON is a 400 and not a RecursionError."""

from __future__ import annotations

import codecs

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json as drf_json

from kcs import bounds


class JSONParser(parsers.JSONParser):
    """Parses JSON request bodies; raises :class:`ParseError` (400) for invalid JSON or more than
    :data:`kcs.bounds.MAX_JSON_DEPTH` levels of lists and objects."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return bounds.loads(text, parse_constant=drf_json.strict_constant if self.strict else None)
        except bounds.JSONTooDeep as exc:
            raise ParseError(exc.message) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
