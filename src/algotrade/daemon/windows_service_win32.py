"""The service process Windows starts: ``python -m algotrade.daemon.windows_service_win32``.

A thin pywin32 adapter around :class:`ServiceHost`: SvcRun runs the host, SvcStop asks it to
stop, status reports go to the SCM and messages to the Windows event log. It runs in this
interpreter (no ``pythonservice.exe``), so a virtual environment works as installed. Only
importable with pywin32; NOT run on Linux (see docs/windows-service.md).
"""

from __future__ import annotations

import importlib
from typing import Any

from algotrade.daemon.windows_service_api import Pywin32Api, ServiceState, WindowsServiceError
from algotrade.daemon.windows_service_host import HostArguments, ServiceHost

win32serviceutil: Any = importlib.import_module("win32serviceutil")
servicemanager: Any = importlib.import_module("servicemanager")


class DaemonExitedError(WindowsServiceError):
    """Raised out of SvcRun so pywin32 reports STOPPED with an error: the failure actions then
    restart the service."""


class AlgotradeService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
    _svc_name_ = "algotrade"  # the SCM passes the installed name in args[0]
    _svc_display_name_ = "algotrade daemon"

    def __init__(self, args: list[str]) -> None:
        super().__init__(args)
        self.service_name = str(args[0]) if args else self._svc_name_
        self.api = Pywin32Api()
        arguments = HostArguments.from_parameters(self.api.read_parameters(self.service_name))
        self.final: tuple[int, int] = (0, 0)
        self.host = ServiceHost(arguments, self._report, self._log)

    def _report(
        self,
        state: ServiceState,
        *,
        wait_hint_ms: int = 0,
        win32_exit_code: int = 0,
        service_exit_code: int = 0,
        pid: int | None = None,
    ) -> None:
        if state == ServiceState.STOPPED:
            # pywin32 reports STOPPED itself when SvcRun returns (or raises): remember the codes.
            self.final = (win32_exit_code, service_exit_code)
            return
        self.ReportServiceStatus(int(state), waitHint=wait_hint_ms)

    def _log(self, message: str, *, error: bool = False) -> None:
        self.api.log_event(self.service_name, message, error=error)

    def SvcStop(self) -> None:  # noqa: N802 (pywin32's name)
        self.host.request_stop()

    def SvcRun(self) -> None:  # noqa: N802 (pywin32's name)
        outcome = self.host.run()
        if self.final[0] != 0:
            raise DaemonExitedError(
                f"daemon exited with {outcome.exit_code} without being asked to stop"
            )


def main() -> None:
    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(AlgotradeService)
    servicemanager.StartServiceCtrlDispatcher()


if __name__ == "__main__":
    main()
