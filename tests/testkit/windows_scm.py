"""An in-memory Service Control Manager: the test double of :class:`WindowsServiceApi`.

It keeps services, their parameters, DACL, state and pid, records every call, and enforces
what Windows would: creating a service needs an elevated caller, and start/stop/delete/change
are checked against the DACL the installer wrote (parsed from its SDDL) for the caller's groups.
With a ``host_factory``, ``start`` runs a real :class:`ServiceHost` in a thread, so a test can
drive ``algotrade service start/stop`` end to end against a real daemon child process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from algotrade.daemon.windows_service_acl import (
    ADMINISTRATORS,
    AUTHENTICATED_USERS,
    DELETE,
    INTERACTIVE,
    READ_ONLY,
    SERVICE_CHANGE_CONFIG,
    SERVICE_DACL,
    SERVICE_QUERY_CONFIG,
    SERVICE_QUERY_STATUS,
    SERVICE_START,
    SERVICE_STOP,
    SYSTEM,
    USERS,
    WRITE_DAC,
    granted,
    service_sddl,
)
from algotrade.daemon.windows_service_api import (
    ERROR_ACCESS_DENIED,
    ERROR_SERVICE_ALREADY_RUNNING,
    ERROR_SERVICE_DOES_NOT_EXIST,
    ERROR_SERVICE_EXISTS,
    ERROR_SERVICE_NOT_ACTIVE,
    ServiceInfo,
    ServiceState,
    StartType,
    translate_error,
)

ADMIN_GROUPS = frozenset({SYSTEM, ADMINISTRATORS, USERS, INTERACTIVE, AUTHENTICATED_USERS})
TRADER_GROUPS = frozenset({USERS, INTERACTIVE, AUTHENTICATED_USERS})
# What CreateService gives a new service before the installer replaces it: admins full,
# everyone else read-only (close to Windows' own default).
_DEFAULT_SDDL = service_sddl(
    ((SYSTEM, SERVICE_DACL[0][1]), (ADMINISTRATORS, SERVICE_DACL[1][1]), (USERS, READ_ONLY))
)


class FakeHost(Protocol):
    def run(self) -> Any: ...
    def request_stop(self) -> None: ...


@dataclass
class FakeService:
    name: str
    display_name: str
    binary_path: str
    description: str = ""
    delayed_start: bool = False
    failure_actions: tuple[tuple[int, ...], int] | None = None
    sddl: str = _DEFAULT_SDDL
    parameters: dict[str, Any] = field(default_factory=dict)
    state: ServiceState = ServiceState.STOPPED
    pid: int | None = None
    win32_exit_code: int = 0
    service_exit_code: int = 0
    reports: list[tuple[ServiceState, int, int, int]] = field(default_factory=list)
    host: FakeHost | None = None
    thread: threading.Thread | None = None


class FakeWindowsApi:
    def __init__(
        self,
        *,
        elevated: bool = True,
        groups: frozenset[str] = ADMIN_GROUPS,
        host_factory: Callable[[FakeWindowsApi, str], FakeHost] | None = None,
    ) -> None:
        self.elevated = elevated
        self.groups = groups
        self.host_factory = host_factory
        self.services: dict[str, FakeService] = {}
        self.calls: list[tuple[str, str]] = []
        self.events: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()

    def as_trader(self) -> FakeWindowsApi:
        """A view of the same SCM as a non-elevated trader sees it."""
        view = FakeWindowsApi(elevated=False, groups=TRADER_GROUPS, host_factory=self.host_factory)
        view.services, view.calls, view.events, view.lock = (
            self.services,
            self.calls,
            self.events,
            self.lock,
        )
        return view

    # -- WindowsServiceApi ----------------------------------------------------------

    def is_elevated(self) -> bool:
        return self.elevated

    def create_service(self, name: str, display_name: str, binary_path: str) -> None:
        self.calls.append(("create_service", name))
        if not self.elevated:
            raise translate_error(name, ERROR_ACCESS_DENIED, "Access is denied.")
        if name.lower() in (known.lower() for known in self.services):
            raise translate_error(name, ERROR_SERVICE_EXISTS, "The service exists.")
        self.services[name] = FakeService(name, display_name, binary_path)

    def set_description(self, name: str, text: str) -> None:
        self._service(name, "set_description", SERVICE_CHANGE_CONFIG).description = text

    def set_delayed_auto_start(self, name: str) -> None:
        self._service(name, "set_delayed_auto_start", SERVICE_CHANGE_CONFIG).delayed_start = True

    def set_failure_actions(
        self, name: str, restart_delays_ms: tuple[int, ...], reset_period_s: int
    ) -> None:
        service = self._service(name, "set_failure_actions", SERVICE_CHANGE_CONFIG)
        service.failure_actions = (restart_delays_ms, reset_period_s)

    def set_security(self, name: str, sddl: str) -> None:
        self._service(name, "set_security", WRITE_DAC).sddl = sddl

    def write_parameters(self, name: str, parameters: dict[str, Any]) -> None:
        if not self.elevated:  # the Services registry key is writable by administrators only
            raise translate_error(name, ERROR_ACCESS_DENIED, "Access is denied.")
        self._service(name, "write_parameters", 0).parameters = dict(parameters)

    def read_parameters(self, name: str) -> dict[str, Any]:
        return dict(self._service(name, "read_parameters", 0).parameters)

    def start(self, name: str) -> None:
        service = self._service(name, "start", SERVICE_START)
        with self.lock:
            if service.state != ServiceState.STOPPED:
                raise translate_error(name, ERROR_SERVICE_ALREADY_RUNNING, "running")
            service.state = ServiceState.START_PENDING
        if self.host_factory is None:
            self.report(name, ServiceState.RUNNING)
            return
        host = self.host_factory(self, name)
        service.host = host
        service.thread = threading.Thread(target=host.run, name=f"fake-service-{name}")
        service.thread.start()

    def stop(self, name: str) -> None:
        service = self._service(name, "stop", SERVICE_STOP)
        if service.state in (ServiceState.STOPPED, ServiceState.STOP_PENDING):
            raise translate_error(name, ERROR_SERVICE_NOT_ACTIVE, "not active")
        if service.host is None:
            self.report(name, ServiceState.STOPPED)
            return
        service.host.request_stop()  # the SCM calls SvcStop on the service's control thread

    def delete(self, name: str) -> None:
        self._service(name, "delete", DELETE)
        del self.services[name]

    def query(self, name: str) -> ServiceInfo:
        service = self._service(name, "query", SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG)
        return ServiceInfo(
            name=name,
            display_name=service.display_name,
            state=service.state,
            pid=service.pid,
            start_type=StartType.AUTO,
            delayed_start=service.delayed_start,
            binary_path=service.binary_path,
            win32_exit_code=service.win32_exit_code,
            service_exit_code=service.service_exit_code,
        )

    def log_event(self, name: str, message: str, *, error: bool = False) -> None:
        self.events.append((name, message, error))

    # -- what the service host reports -----------------------------------------------

    def report(
        self,
        name: str,
        state: ServiceState,
        *,
        wait_hint_ms: int = 0,
        win32_exit_code: int = 0,
        service_exit_code: int = 0,
        pid: int | None = None,
    ) -> None:
        with self.lock:
            service = self.services[name]
            service.reports.append((state, wait_hint_ms, win32_exit_code, service_exit_code))
            service.state = state
            if pid is not None:
                service.pid = pid
            if state == ServiceState.STOPPED:
                service.pid = None
                service.win32_exit_code = win32_exit_code
                service.service_exit_code = service_exit_code

    def join(self, name: str, timeout: float) -> None:
        """Wait for the host thread of ``name`` to end (tests)."""
        thread = self.services[name].thread
        if thread is not None:
            thread.join(timeout)
            assert not thread.is_alive(), f"service host {name} still running after {timeout} s"

    def snapshot(self, name: str) -> FakeService:
        return replace(self.services[name], reports=list(self.services[name].reports))

    def _service(self, name: str, call: str, needs: int) -> FakeService:
        self.calls.append((call, name))
        service = self.services.get(name)
        if service is None:
            raise translate_error(name, ERROR_SERVICE_DOES_NOT_EXIST, "does not exist")
        if needs and granted(service.sddl, self.groups) & needs != needs:
            raise translate_error(name, ERROR_ACCESS_DENIED, "Access is denied.")
        return service
