"""Control characters made visible, for text that ends up in logs and terminals.

A request path, a user name or a task's output may carry CR and LF (which forge log lines),
ANSI escape sequences (which rewrite a terminal) or other control characters. Wherever such
text is written to a log line or a terminal it is passed through :func:`escape_control`,
which replaces each control character with its Python escape (``\\n``, ``\\x1b``, ...), so
the line stays one line and shows what was sent.
"""

from __future__ import annotations

from functools import lru_cache


def _escape(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if code in named:
        return named[code]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


# C0, DEL, C1, and the Unicode line and paragraph separators some viewers break lines at.
_CONTROL = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_TABLE = {code: _escape(code) for code in _CONTROL}


def escape_control(text: str, keep: str = "") -> str:
    """``text`` with every control character except those in ``keep`` replaced by its
    escape; other text unchanged.

    Example::

        >>> escape_control("/x\\r\\nINFO forged")
        '/x\\\\r\\\\nINFO forged'
        >>> escape_control("line one\\nline \\x1b[2Jtwo", keep="\\n")
        'line one\\nline \\\\x1b[2Jtwo'
    """
    return text.translate(_table(keep))


@lru_cache(maxsize=8)
def _table(keep: str) -> dict[int, str]:
    return {code: value for code, value in _TABLE.items() if chr(code) not in keep}
