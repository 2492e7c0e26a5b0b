"""The one seam between the Windows service code and Windows: the Service Control Manager,
the service's registry parameters, its security descriptor and the event log.

Everything the installer, the CLI and the service host ask of Windows goes through
:class:`WindowsServiceApi`. :class:`Pywin32Api` implements it with pywin32 (the ``windows``
extra); tests on Linux pass an in-memory SCM instead (``tests/testkit/windows_scm.py``), so
the logic around these calls is tested everywhere while the calls themselves only run on
Windows.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Protocol

from algotrade.core.errors import AlgoTradeError


class ServiceState(IntEnum):
    """``SERVICE_STATUS.dwCurrentState``."""

    STOPPED = 1
    START_PENDING = 2
    STOP_PENDING = 3
    RUNNING = 4
    CONTINUE_PENDING = 5
    PAUSE_PENDING = 6
    PAUSED = 7


class StartType(IntEnum):
    """``QUERY_SERVICE_CONFIG.dwStartType`` (service types only)."""

    AUTO = 2
    DEMAND = 3
    DISABLED = 4


# Win32 error codes the code below tells apart.
ERROR_ACCESS_DENIED = 5
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_NOT_ACTIVE = 1062
ERROR_SERVICE_SPECIFIC_ERROR = 1066
ERROR_PROCESS_ABORTED = 1067
ERROR_SERVICE_MARKED_FOR_DELETE = 1072
ERROR_SERVICE_EXISTS = 1073

PARAMETERS_OPTION = "HostArguments"  # Services\<name>\Parameters value holding the JSON


class WindowsServiceError(AlgoTradeError):
    """A service operation Windows refused; the message says which and why."""


class WindowsUnavailable(WindowsServiceError):
    """Not on Windows, or pywin32 is missing."""


class ServiceAccessDenied(WindowsServiceError):
    pass


class ServiceNotInstalled(WindowsServiceError):
    pass


class ServiceAlreadyInstalled(WindowsServiceError):
    pass


class ServiceNotRunning(WindowsServiceError):
    pass


class ServiceAlreadyRunning(WindowsServiceError):
    pass


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str
    display_name: str
    state: ServiceState
    pid: int | None
    start_type: StartType
    delayed_start: bool
    binary_path: str
    win32_exit_code: int = 0
    service_exit_code: int = 0


class WindowsServiceApi(Protocol):
    """What the service code needs from Windows; each method is one SCM/registry/log call."""

    def is_elevated(self) -> bool: ...
    def create_service(self, name: str, display_name: str, binary_path: str) -> None: ...
    def set_description(self, name: str, text: str) -> None: ...
    def set_delayed_auto_start(self, name: str) -> None: ...
    def set_failure_actions(
        self, name: str, restart_delays_ms: tuple[int, ...], reset_period_s: int
    ) -> None: ...
    def set_security(self, name: str, sddl: str) -> None: ...
    def write_parameters(self, name: str, parameters: dict[str, Any]) -> None: ...
    def read_parameters(self, name: str) -> dict[str, Any]: ...
    def start(self, name: str) -> None: ...
    def stop(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def query(self, name: str) -> ServiceInfo: ...
    def log_event(self, name: str, message: str, *, error: bool = False) -> None: ...


def load_windows_api() -> WindowsServiceApi:
    """The pywin32 implementation; :class:`WindowsUnavailable` elsewhere or without pywin32."""
    if sys.platform != "win32":
        raise WindowsUnavailable(
            f"algotrade service needs Windows (this is {sys.platform}); "
            "on Linux use systemd: algotrade deploy systemd"
        )
    try:
        for module in ("win32service", "win32serviceutil", "win32security", "servicemanager"):
            importlib.import_module(module)
    except ImportError:
        raise WindowsUnavailable(
            'pywin32 is not installed; run: pip install "algotrade[windows]"'
        ) from None
    return Pywin32Api()


class Pywin32Api:
    """:class:`WindowsServiceApi` through pywin32; never run here (docs/windows-service.md)."""

    def __init__(self) -> None:
        self.ws = importlib.import_module("win32service")
        self.wsu = importlib.import_module("win32serviceutil")
        self.security = importlib.import_module("win32security")
        self.manager = importlib.import_module("servicemanager")

    def is_elevated(self) -> bool:
        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]

    def create_service(self, name: str, display_name: str, binary_path: str) -> None:
        ws = self.ws
        with self._translate(name), self._scm(ws.SC_MANAGER_CREATE_SERVICE) as scm:
            handle = ws.CreateService(
                scm,
                name,
                display_name,
                ws.SERVICE_ALL_ACCESS,
                ws.SERVICE_WIN32_OWN_PROCESS,
                ws.SERVICE_AUTO_START,
                ws.SERVICE_ERROR_NORMAL,
                binary_path,
                None,  # load order group
                0,  # no tag
                None,  # dependencies
                None,  # LocalSystem
                None,
            )
            ws.CloseServiceHandle(handle)

    def set_description(self, name: str, text: str) -> None:
        self._config2(name, self.ws.SERVICE_CONFIG_DESCRIPTION, text)

    def set_delayed_auto_start(self, name: str) -> None:
        self._config2(name, self.ws.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, True)

    def set_failure_actions(
        self, name: str, restart_delays_ms: tuple[int, ...], reset_period_s: int
    ) -> None:
        ws = self.ws
        actions = [(ws.SC_ACTION_RESTART, delay) for delay in restart_delays_ms]
        info = {"ResetPeriod": reset_period_s, "RebootMsg": None, "Command": None}
        self._config2(name, ws.SERVICE_CONFIG_FAILURE_ACTIONS, {**info, "Actions": actions})
        # Without this flag Windows restarts only after a crash of the host process, not when
        # the host reports STOPPED with an error (what it does when the daemon dies).
        self._config2(name, ws.SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, True)

    def set_security(self, name: str, sddl: str) -> None:
        sec = self.security
        descriptor = sec.ConvertStringSecurityDescriptorToSecurityDescriptor(
            sddl, sec.SDDL_REVISION_1
        )
        with self._translate(name), self._service(name, self.ws.WRITE_DAC) as handle:
            self.ws.SetServiceObjectSecurity(handle, sec.DACL_SECURITY_INFORMATION, descriptor)

    def write_parameters(self, name: str, parameters: dict[str, Any]) -> None:
        with self._translate(name):
            self.wsu.SetServiceCustomOption(name, PARAMETERS_OPTION, json.dumps(parameters))

    def read_parameters(self, name: str) -> dict[str, Any]:
        with self._translate(name):
            text = self.wsu.GetServiceCustomOption(name, PARAMETERS_OPTION, None)
        if not text:
            raise ServiceNotInstalled(f"service {name!r} has no {PARAMETERS_OPTION} (reinstall)")
        value = json.loads(text)
        return value if isinstance(value, dict) else {}

    def start(self, name: str) -> None:
        with self._translate(name), self._service(name, self.ws.SERVICE_START) as handle:
            self.ws.StartService(handle, None)

    def stop(self, name: str) -> None:
        ws = self.ws
        with self._translate(name), self._service(name, ws.SERVICE_STOP) as handle:
            ws.ControlService(handle, ws.SERVICE_CONTROL_STOP)

    def delete(self, name: str) -> None:
        with self._translate(name), self._service(name, self.ws.DELETE) as handle:
            self.ws.DeleteService(handle)

    def query(self, name: str) -> ServiceInfo:
        ws = self.ws
        access = ws.SERVICE_QUERY_STATUS | ws.SERVICE_QUERY_CONFIG
        with self._translate(name), self._service(name, access) as handle:
            status = ws.QueryServiceStatusEx(handle)
            config = ws.QueryServiceConfig(handle)
            try:
                delayed = bool(
                    ws.QueryServiceConfig2(handle, ws.SERVICE_CONFIG_DELAYED_AUTO_START_INFO)
                )
            except Exception:  # older Windows: no delayed start
                delayed = False
        pid = int(status.get("ProcessId") or 0)
        return ServiceInfo(
            name=name,
            display_name=str(config[8]),
            state=ServiceState(int(status["CurrentState"])),
            pid=pid or None,
            start_type=StartType(int(config[1])),
            delayed_start=delayed,
            binary_path=str(config[3]),
            win32_exit_code=int(status.get("Win32ExitCode") or 0),
            service_exit_code=int(status.get("ServiceSpecificExitCode") or 0),
        )

    def log_event(self, name: str, message: str, *, error: bool = False) -> None:
        if error:
            self.manager.LogErrorMsg(f"{name}: {message}")
        else:
            self.manager.LogInfoMsg(f"{name}: {message}")

    # -- handles and errors ----------------------------------------------------------

    @contextlib.contextmanager
    def _scm(self, access: int) -> Iterator[Any]:
        scm = self.ws.OpenSCManager(None, None, access)
        try:
            yield scm
        finally:
            self.ws.CloseServiceHandle(scm)

    @contextlib.contextmanager
    def _service(self, name: str, access: int) -> Iterator[Any]:
        with self._scm(self.ws.SC_MANAGER_CONNECT) as scm:
            handle = self.ws.OpenService(scm, name, access)
            try:
                yield handle
            finally:
                self.ws.CloseServiceHandle(handle)

    def _config2(self, name: str, level: int, value: Any) -> None:
        ws = self.ws
        with self._translate(name), self._service(name, ws.SERVICE_CHANGE_CONFIG) as handle:
            ws.ChangeServiceConfig2(handle, level, value)

    @contextlib.contextmanager
    def _translate(self, name: str) -> Iterator[None]:
        error_type = importlib.import_module("pywintypes").error
        try:
            yield
        except error_type as exc:
            raise translate_error(name, int(exc.winerror), str(exc.strerror)) from None


def translate_error(name: str, code: int, text: str) -> WindowsServiceError:
    """A Win32 error code of a service call as the error the CLI reports in one line."""
    match code:
        case 5:  # ERROR_ACCESS_DENIED
            return ServiceAccessDenied(
                f"service {name!r}: access denied; run this from an elevated prompt "
                "(Run as administrator); non-administrators may only read its status"
            )
        case 1060:  # ERROR_SERVICE_DOES_NOT_EXIST
            return ServiceNotInstalled(
                f"service {name!r} is not installed (algotrade service install)"
            )
        case 1073:  # ERROR_SERVICE_EXISTS
            return ServiceAlreadyInstalled(
                f"service {name!r} is already installed (algotrade service remove first)"
            )
        case 1072:  # ERROR_SERVICE_MARKED_FOR_DELETE
            return ServiceAlreadyInstalled(
                f"service {name!r} is marked for deletion; close the Services console "
                "(services.msc) and try again"
            )
        case 1056:  # ERROR_SERVICE_ALREADY_RUNNING
            return ServiceAlreadyRunning(f"service {name!r} is already running")
        case 1062:  # ERROR_SERVICE_NOT_ACTIVE
            return ServiceNotRunning(f"service {name!r} is not running")
        case _:
            return WindowsServiceError(f"service {name!r}: {text} (Windows error {code})")
