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
