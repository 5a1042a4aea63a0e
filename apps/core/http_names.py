"""Which header and cookie names an upstream request may carry, and which headers belong to
the gateway. Pure: the tool generator, the quality checks, the credential schemes and the
request builder all read these, so the rules are written once."""

from __future__ import annotations

import re

# RFC 9110 5.6.2 (a header's field-name) and RFC 6265 4.1.1 (a cookie-name): a token.
HTTP_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HTTP_NAME_CHARACTERS = "letters, digits and !#$%&'*+-.^_`|~"

#: Headers the gateway sets itself, or that frame or route the request (lower case). Neither
#: an argument nor a credential may supply them.
GATEWAY_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer",
    "expect", "proxy-connection", "proxy-authorization", "cookie",
})

# RFC 9110 5.5: field-value = *field-content, field-vchar = VCHAR / obs-text, with SP and HTAB
# allowed only between visible characters. The gateway is stricter on obs-text (0x80-0xFF):
# it is refused, since its meaning is undefined (ISO-8859-1? UTF-8 bytes?) and upstreams read
# it differently. So a value is printable ASCII, SP and HTAB, without leading or trailing
# whitespace. CR, LF, NUL, VT, FF, DEL and U+2028/U+2029 are all refused, never stripped:
# the value the policy saw is the value that is sent, or nothing is sent.
_NOT_FIELD_VALUE = re.compile(r"[^\t\x20-\x7e]")  # one character class: linear, no backtracking
FIELD_VALUE_CHARACTERS = "printable ASCII, spaces and tabs (not at either end)"


def is_field_value(value: str) -> bool:
    """Whether ``value`` may be sent as an HTTP header (or cookie) value (see above)."""
    return not _NOT_FIELD_VALUE.search(value) and value == value.strip(" \t")
