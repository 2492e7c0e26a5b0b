"""The service's DACL: Administrators and SYSTEM control it, everyone else only reads."""

from __future__ import annotations

import pytest

from algotrade.daemon import windows_service_acl as acl


def test_the_sddl_is_exactly_full_control_for_admins_and_read_for_users() -> None:
    full = "CCDCLCSWRPWPDTLOCRSDRCWDWO"
    read = "CCLCSWLORC"
    assert acl.service_sddl() == (
        f"D:(A;;{full};;;SY)(A;;{full};;;BA)(A;;{read};;;IU)(A;;{read};;;BU)(A;;{read};;;AU)"
    )


@pytest.mark.parametrize("group", [acl.USERS, acl.INTERACTIVE, acl.AUTHENTICATED_USERS])
def test_a_trader_reads_but_cannot_start_stop_change_or_delete(group: str) -> None:
    mask = acl.granted(acl.service_sddl(), frozenset({group}))
    assert mask == (
        acl.SERVICE_QUERY_STATUS
        | acl.SERVICE_QUERY_CONFIG
        | acl.SERVICE_INTERROGATE
        | acl.READ_CONTROL
        | acl.SERVICE_ENUMERATE_DEPENDENTS
    )
    for forbidden in (
        acl.SERVICE_START,
        acl.SERVICE_STOP,
        acl.SERVICE_PAUSE_CONTINUE,
        acl.SERVICE_CHANGE_CONFIG,
        acl.SERVICE_USER_DEFINED_CONTROL,
        acl.DELETE,
        acl.WRITE_DAC,
        acl.WRITE_OWNER,
    ):
        assert not mask & forbidden, hex(forbidden)


@pytest.mark.parametrize("group", [acl.ADMINISTRATORS, acl.SYSTEM])
def test_administrators_and_system_have_full_control(group: str) -> None:
    assert acl.granted(acl.service_sddl(), frozenset({group})) == acl.SERVICE_ALL_ACCESS


def test_parse_reads_back_what_service_sddl_writes() -> None:
    aces = acl.parse_sddl(acl.service_sddl())
    assert [(ace.sid, ace.mask) for ace in aces] == list(acl.SERVICE_DACL)


def test_a_mask_with_a_bit_sddl_cannot_spell_is_refused() -> None:
    with pytest.raises(ValueError, match="0x100000"):
        acl.rights_text(0x0010_0000)  # SYNCHRONIZE: no letter in a service DACL


def test_unknown_rights_letters_are_refused() -> None:
    with pytest.raises(ValueError, match="XX"):
        acl.parse_sddl("D:(A;;XX;;;BU)")
    with pytest.raises(ValueError, match="D:"):
        acl.parse_sddl("O:BA")
