"""Who may do what with the Windows service: its security descriptor (DACL) as SDDL.

The prop-firm risk guard must keep running while a trader is logged in: Administrators and
SYSTEM get full control (start, stop, change, delete), while Users, Interactive and
Authenticated Users may only read (query status and config, interrogate, read the descriptor,
list dependents). The descriptor is written as SDDL text because that is what
``ConvertStringSecurityDescriptorToSecurityDescriptor`` takes, and because text can be
checked here, on a machine without Windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Service access rights (winsvc.h) and the standard rights a service DACL uses.
SERVICE_QUERY_CONFIG = 0x0001
SERVICE_CHANGE_CONFIG = 0x0002
SERVICE_QUERY_STATUS = 0x0004
SERVICE_ENUMERATE_DEPENDENTS = 0x0008
SERVICE_START = 0x0010
SERVICE_STOP = 0x0020
SERVICE_PAUSE_CONTINUE = 0x0040
SERVICE_INTERROGATE = 0x0080
SERVICE_USER_DEFINED_CONTROL = 0x0100
DELETE = 0x0001_0000
READ_CONTROL = 0x0002_0000
WRITE_DAC = 0x0004_0000
WRITE_OWNER = 0x0008_0000
SERVICE_ALL_ACCESS = 0x000F_01FF

READ_ONLY = (
    SERVICE_QUERY_STATUS
    | SERVICE_QUERY_CONFIG
    | SERVICE_INTERROGATE
    | READ_CONTROL
    | SERVICE_ENUMERATE_DEPENDENTS
)

# SDDL's two-letter rights as they apply to service objects (the generic object letters
# reuse the service bits), in the order Windows itself prints them.
SDDL_RIGHTS: tuple[tuple[str, int], ...] = (
    ("CC", SERVICE_QUERY_CONFIG),
    ("DC", SERVICE_CHANGE_CONFIG),
    ("LC", SERVICE_QUERY_STATUS),
    ("SW", SERVICE_ENUMERATE_DEPENDENTS),
    ("RP", SERVICE_START),
    ("WP", SERVICE_STOP),
    ("DT", SERVICE_PAUSE_CONTINUE),
    ("LO", SERVICE_INTERROGATE),
    ("CR", SERVICE_USER_DEFINED_CONTROL),
    ("SD", DELETE),
    ("RC", READ_CONTROL),
    ("WD", WRITE_DAC),
    ("WO", WRITE_OWNER),
)

# Well-known SID aliases of SDDL.
SYSTEM = "SY"
ADMINISTRATORS = "BA"
USERS = "BU"
INTERACTIVE = "IU"
AUTHENTICATED_USERS = "AU"

# Full control for the machine's owners; read access for everyone who logs on.
SERVICE_DACL: tuple[tuple[str, int], ...] = (
    (SYSTEM, SERVICE_ALL_ACCESS),
    (ADMINISTRATORS, SERVICE_ALL_ACCESS),
    (INTERACTIVE, READ_ONLY),
    (USERS, READ_ONLY),
    (AUTHENTICATED_USERS, READ_ONLY),
)

_ACE = re.compile(r"\(A;;(?P<rights>[A-Z]*);;;(?P<sid>[A-Z]{2}|S-[0-9-]+)\)")


@dataclass(frozen=True, slots=True)
class Ace:
    sid: str
    mask: int


def rights_text(mask: int) -> str:
    """``mask`` in SDDL letters; a bit SDDL has no letter for would be lost, so it is refused."""
    letters = "".join(code for code, bit in SDDL_RIGHTS if mask & bit)
    if mask & ~sum(bit for _, bit in SDDL_RIGHTS):
        raise ValueError(f"access mask {mask:#x} has bits without an SDDL letter")
    return letters


def service_sddl(dacl: tuple[tuple[str, int], ...] = SERVICE_DACL) -> str:
    """The DACL as SDDL, e.g. ``D:(A;;CCLC…;;;SY)…``: allow entries only, not inherited."""
    return "D:" + "".join(f"(A;;{rights_text(mask)};;;{sid})" for sid, mask in dacl)


def parse_sddl(sddl: str) -> list[Ace]:
    """The allow entries of an SDDL DACL (what :func:`service_sddl` writes)."""
    if not sddl.startswith("D:"):
        raise ValueError(f"expected an SDDL DACL starting with 'D:', got {sddl[:20]!r}")
    letters = dict(SDDL_RIGHTS)
    aces = []
    for match in _ACE.finditer(sddl):
        text = match["rights"]
        codes = [text[i : i + 2] for i in range(0, len(text), 2)]
        unknown = [code for code in codes if code not in letters]
        if unknown:
            raise ValueError(f"unknown SDDL right(s) {unknown} in {sddl!r}")
        aces.append(Ace(sid=match["sid"], mask=sum(letters[code] for code in codes)))
    return aces


def granted(sddl: str, groups: frozenset[str]) -> int:
    """The access a caller in ``groups`` (SID aliases) gets from the DACL ``sddl``."""
    mask = 0
    for ace in parse_sddl(sddl):
        if ace.sid in groups:
            mask |= ace.mask
    return mask
