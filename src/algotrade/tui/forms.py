"""Modal screens: a confirmation, the create-bot form generated from a strategy's parameter
JSON Schema, and the config editor. The daemon validates; an API error is shown under the field
it names (``body.params.fast: ...`` → the ``fast`` input), else under the form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from algotrade.client import ApiError, AsyncAlgoTradeClient, ClientError
from algotrade.tui.screen_work import while_shown

BASE_FIELDS: tuple[tuple[str, str], ...] = (
    ("bot_id", ""),
    ("symbol", "SIM-BTC"),
    ("interval", "1m"),
    ("feed", "sim"),
    ("venue", "paper"),
    ("account_id", "paper"),
    ("initial_capital", "10000"),
)
FEED_OPTIONS_FIELD = "feed_options"
_PATH_PREFIXES = ("body.", "params.", "feed_options.")


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no; ``with_reason`` adds a required one-line reason (dismissed with it as
    ``self.reason``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "confirm", "Yes", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 70; height: auto; border: thick $warning; padding: 1 2;
        background: $surface; }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str, *, with_reason: bool = False) -> None:
        super().__init__()
        self.question = question
        self.with_reason = with_reason
        self.reason = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.with_reason:
                yield Input(placeholder="reason (kept in the audit log)", id="reason")
                yield Label("", id="reason-error", classes="error")
            with Horizontal():
                yield Button("Yes", variant="error", id="yes")
                yield Button("No", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#reason" if self.with_reason else "#no").focus()

    @on(Button.Pressed, "#yes")
    def action_confirm(self) -> None:
        if self.with_reason:
            self.reason = self.query_one("#reason", Input).value.strip()
            if not self.reason:
                self.query_one("#reason-error", Label).update("reason: give a reason")
                return
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(False)


def field_of(message_part: str, fields: set[str]) -> str | None:
    """The form field an API error names: ``body.params.fast: ...`` → ``fast``."""
    path = message_part.split(":", 1)[0].strip()
    while path.startswith(_PATH_PREFIXES):
        path = path.split(".", 1)[1]
    head = path.split(".", 1)[0]
    if head in fields:
        return head
    for quoted in re.findall(r"'([A-Za-z0-9_]+)'", message_part):  # parameter 'fast': ...
        if quoted in fields:
            return str(quoted)
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", message_part):
        if word in fields:
            return str(word)
    return None


def split_errors(message: str, fields: set[str]) -> tuple[dict[str, str], list[str]]:
    """An API error message → messages per field, and the ones that name no field."""
    per_field: dict[str, str] = {}
    general: list[str] = []
    for part in (p.strip() for p in message.split("; ")):
        if not part:
            continue
        name = field_of(part, fields)
        if name is None:
            general.append(part)
        else:
            per_field[name] = f"{per_field[name]}; {part}" if name in per_field else part
    return per_field, general


def convert(text: str, schema: Mapping[str, Any]) -> Any:
    """Form text → the JSON value the schema's type asks for; the text itself when it is not
    one (the daemon then names the field and the problem). Decimals stay text (exact)."""
    kind = schema.get("type")
    value = text.strip()
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "number":
        try:
            return float(value) if schema.get("format") != "decimal" else value
        except ValueError:
            return value
    if kind == "boolean":
        return value.lower() in ("1", "true", "yes", "on")
    return value


class CreateBotScreen(ModalScreen[str | None]):
    """A new bot: base fields, the strategy (from ``GET /api/strategies``) and a field per
    strategy parameter. Dismissed with the new bot's id."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    CreateBotScreen { align: center middle; }
    CreateBotScreen > Vertical { width: 90; height: 90%; border: thick $accent; padding: 0 1;
        background: $surface; }
    CreateBotScreen .row { height: auto; }
    CreateBotScreen .row Label.name { width: 22; padding-top: 1; }
    CreateBotScreen .row Input, CreateBotScreen .row Select { width: 1fr; }
    CreateBotScreen .error { color: $error; height: auto; }
    CreateBotScreen #buttons { height: auto; }
    """

    def __init__(self, client: AsyncAlgoTradeClient) -> None:
        super().__init__()
        self.client = client
        self.strategies: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]New bot[/b]")
            with VerticalScroll(id="fields"):
                for name, default in BASE_FIELDS:
                    yield from _field_row(name, default)
                with Horizontal(classes="row"):
                    yield Label("strategy", classes="name")
                    yield Select[str]([], id="strategy", prompt="strategy")
                yield Label("", id="error-strategy", classes="error")
                yield from _field_row(FEED_OPTIONS_FIELD, '{"tick_seconds": 1}')
                yield Vertical(id="params")
            yield Label("", id="form-error", classes="error")
            with Horizontal(id="buttons"):
                yield Button("Create", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#input-bot_id", Input).focus()
        self.load_strategies()

    @work(exclusive=True, group="strategies")
    @while_shown
    async def load_strategies(self) -> None:
        try:
            strategies = await self.client.strategies()
        except ClientError as exc:
            self._form_error(str(exc))
            return
        self.strategies = {s["name"]: s for s in strategies}
        select = self.query_one("#strategy", Select)
        select.set_options((name, name) for name in self.strategies)
        if self.strategies:
            select.value = next(iter(self.strategies))

    @on(Select.Changed, "#strategy")
    async def strategy_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#params", Vertical)
        await box.remove_children()
        info = self.strategies.get(str(event.value))
        if info is None:
            return
        schema = info.get("params_schema") or {}
        rows = []
        for name, prop in (schema.get("properties") or {}).items():
            default = prop.get("default")
            text = "" if default is None else str(default)
            description = prop.get("description") or prop.get("title") or ""
            rows.extend(_param_row(name, text, description))
        # One mount: every parameter's field is in the form at once, never a part of them
        # (a Create pressed meanwhile read a field not mounted yet and failed).
        await box.mount_all(rows)

    def param_schemas(self) -> dict[str, dict[str, Any]]:
        info = self.strategies.get(str(self.query_one("#strategy", Select).value)) or {}
        schema = info.get("params_schema") or {}
        return dict(schema.get("properties") or {})

    def config(self) -> dict[str, Any]:
        """The bot config the form describes (values as typed; the daemon validates)."""
        config: dict[str, Any] = {}
        for name, _ in BASE_FIELDS:
            value = self.query_one(f"#input-{name}", Input).value.strip()
            if value:
                config[name] = value
        strategy = self.query_one("#strategy", Select).value
        if isinstance(strategy, str):
            config["strategy"] = strategy
        params = {}
        for name, schema in self.param_schemas().items():
            field = self.query(f"#input-{name}").results(Input)
            found = next(iter(field), None)
            if found is None:  # the strategy was just chosen: its fields are being built
                raise FormNotReady("the strategy's parameters are still loading; try again")
            if found.value.strip():
                params[name] = convert(found.value, schema)
        config["params"] = params
        options = self.query_one(f"#input-{FEED_OPTIONS_FIELD}", Input).value.strip()
        if options:
            try:
                config[FEED_OPTIONS_FIELD] = json.loads(options)
            except ValueError:
                config[FEED_OPTIONS_FIELD] = options  # the daemon names the field
        return config

    @on(Button.Pressed, "#create")
    def create(self) -> None:
        self.submit()

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.submit()

    @work(exclusive=True, group="create")
    @while_shown
    async def submit(self) -> None:
        for label in self.query(".error").results(Label):
            label.update("")
        try:
            config = self.config()
        except FormNotReady as exc:
            self._form_error(str(exc))
            return
        try:
            status = await self.client.create_bot(config)
        except ApiError as exc:
            self.show_api_error(exc)
            return
        except ClientError as exc:
            self._form_error(str(exc))
            return
        self.dismiss(str(status.get("bot_id", config.get("bot_id", ""))))

    def show_api_error(self, exc: ApiError) -> None:
        fields = {name for name, _ in BASE_FIELDS} | set(self.param_schemas())
        fields |= {"strategy", FEED_OPTIONS_FIELD}
        per_field, general = split_errors(exc.message, fields)
        for name, message in per_field.items():
            for label in self.query(f"#error-{name}").results(Label):
                label.update(message)
        if general or not per_field:
            self._form_error(f"{exc.status} {exc.code}: {'; '.join(general) or exc.message}")

    def _form_error(self, message: str) -> None:
        self.query_one("#form-error", Label).update(message)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class FormNotReady(Exception):
    """The form is still being built (a strategy's fields); nothing was sent."""


def _field_row(name: str, default: str) -> ComposeResult:
    with Horizontal(classes="row"):
        yield Label(name, classes="name")
        yield Input(default, id=f"input-{name}", placeholder=name)
    yield Label("", id=f"error-{name}", classes="error")


def _param_row(name: str, default: str, description: str) -> list[Any]:
    row = Horizontal(
        Label(name, classes="name"),
        Input(default, id=f"input-{name}", placeholder=description[:60] or name),
        classes="row",
    )
    return [row, Label("", id=f"error-{name}", classes="error")]


class EditConfigScreen(ModalScreen[bool]):
    """The bot's config as JSON; saving sends the changed fields (``PATCH .../config``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]
    DEFAULT_CSS = """
    EditConfigScreen { align: center middle; }
    EditConfigScreen > Vertical { width: 90; height: 90%; border: thick $accent; padding: 0 1;
        background: $surface; }
    EditConfigScreen TextArea { height: 1fr; }
    EditConfigScreen .error { color: $error; height: auto; }
    EditConfigScreen Horizontal { height: auto; }
    """

    def __init__(self, client: AsyncAlgoTradeClient, bot_id: str) -> None:
        super().__init__()
        self.client = client
        self.bot_id = bot_id
        self.original: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]Config of {self.bot_id}[/b] (ctrl+s saves; only while stopped)")
            yield TextArea("", language="json", id="config")
            yield Label("", id="form-error", classes="error")
            with Horizontal():
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="config")
    @while_shown
    async def load(self) -> None:
        try:
            detail = await self.client.get_bot(self.bot_id)
        except ClientError as exc:
            self.query_one("#form-error", Label).update(str(exc))
            return
        self.original = dict(detail.get("config") or {})
        self.query_one("#config", TextArea).text = json.dumps(self.original, indent=2)

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="save")
    @while_shown
    async def save(self) -> None:
        error = self.query_one("#form-error", Label)
        try:
            edited = json.loads(self.query_one("#config", TextArea).text)
        except ValueError as exc:
            error.update(f"config: not valid JSON ({exc})")
            return
        if not isinstance(edited, dict):
            error.update("config: expected a JSON object")
            return
        changes = {k: v for k, v in edited.items() if self.original.get(k) != v}
        if not changes:
            self.dismiss(False)
            return
        try:
            await self.client.update_config(self.bot_id, changes)
        except ClientError as exc:
            error.update(str(exc))
            return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
