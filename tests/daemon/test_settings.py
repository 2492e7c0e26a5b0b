"""DaemonSettings: defaults, precedence file < env < CLI, one-line errors naming source and key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from algotrade.core.errors import ConfigError, InputError
from algotrade.daemon.bot_config import BotConfig
from algotrade.daemon.settings import DaemonSettings, load_settings, redact_url


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(
    config: Path | None, env: dict[str, str] | None = None, overrides: dict[str, Any] | None = None
) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(config, env or {}, overrides or {})
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, InputError)  # the CLI prints it as one line, exit 2
    return message


def test_defaults() -> None:
    settings = load_settings(None, {}, {})
    assert settings.daemon.data_dir == Path("data")
    assert settings.daemon.max_bots == 10_000
    assert settings.daemon.resume_all is False
    assert settings.daemon.shutdown_timeout_s == 10
    assert settings.daemon.heartbeat_interval_s == 1.0
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8080)
    assert settings.api.keys_file is None
    assert settings.api.ws_queue_size == 1000
    assert settings.database.url is None
    assert settings.logging.level == "INFO"
    assert settings.logging.json_format is False
    assert settings.logging.max_bytes == 10 * 1024 * 1024
    assert settings.logging.backups == 5
    assert settings.bots == []


def test_database_url_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(None, {}, {"daemon": {"data_dir": tmp_path / "state"}})
    assert settings.database_url == f"sqlite:///{(tmp_path / 'state').as_posix()}/algotrade.db"
    relative = load_settings(None, {}, {})
    assert relative.database_url == "sqlite:///data/algotrade.db"
    given = load_settings(None, {"ALGOTRADE__DATABASE__URL": "postgresql://u@h/db"}, {})
    assert given.database_url == "postgresql://u@h/db"


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[api]\nport = 9000\nhost = "0.0.0.0"\nws_queue_size = 5\n'
        '[daemon]\ndata_dir = "from-file"\nmax_bots = 7\n',
    )
    env = {"ALGOTRADE__API__PORT": "9100", "algotrade__daemon__max_bots": "8"}
    only_file = load_settings(config, {}, {})
    assert (only_file.api.port, only_file.api.host, only_file.daemon.max_bots) == (
        9000,
        "0.0.0.0",
        7,
    )

    with_env = load_settings(config, env, {})
    assert with_env.api.port == 9100  # env beats the file
    assert with_env.daemon.max_bots == 8  # names are case-insensitive
    assert with_env.api.host == "0.0.0.0"  # sections merge key by key across sources

    overrides = {"api": {"port": 9200, "host": None}, "daemon": {"resume_all": True}}
    with_cli = load_settings(config, env, overrides)
    assert with_cli.api.port == 9200  # CLI beats env and file
    assert with_cli.api.host == "0.0.0.0"  # a None override means "flag not given"
    assert with_cli.api.ws_queue_size == 5
    assert with_cli.daemon.resume_all is True
    assert with_cli.daemon.data_dir == Path("from-file")


def test_environment_other_variables_are_ignored() -> None:
    settings = load_settings(None, {"PATH": "/bin", "ALGOTRADE_API_KEYS": "k"}, {})
    assert settings.api.port == 8080


def test_logging_level_is_normalised_and_json_flag_named_json(tmp_path: Path) -> None:
    config = write(tmp_path, '[logging]\nlevel = "debug"\njson = true\n')
    settings = load_settings(config, {}, {})
    assert settings.logging.level == "DEBUG"
    assert settings.logging.json_format is True
    assert settings.redacted_dump()["logging"]["json"] is True


def test_bots_are_kept_as_dicts(tmp_path: Path) -> None:
    config = write(tmp_path, '[[bots]]\nbot_id = "a"\nsymbol = "X"\nstrategy = "rsi"\n')
    assert load_settings(config, {}, {}).bots == [{"bot_id": "a", "symbol": "X", "strategy": "rsi"}]


def test_file_value_out_of_range(tmp_path: Path) -> None:
    config = write(tmp_path, "[api]\nport = 70000\n")
    assert config_error(config) == (
        f"{config}: api.port: Input should be less than or equal to 65535 (got 70000)"
    )


def test_environment_value_not_an_integer(tmp_path: Path) -> None:
    config = write(tmp_path, "[api]\nport = 9000\n")
    message = config_error(config, {"ALGOTRADE__API__PORT": "abc"})
    assert message.startswith("environment ALGOTRADE__API__PORT: api.port: Input should be a valid")
    assert message.endswith("(got 'abc')")


def test_environment_name_is_reported_as_spelt(tmp_path: Path) -> None:
    message = config_error(None, {"algotrade__logging__level": "loud"})
    assert message.startswith("environment algotrade__logging__level: logging.level: ")
    assert "unknown logging level 'loud'" in message


def test_override_value_is_reported_as_command_line() -> None:
    message = config_error(None, {"ALGOTRADE__API__PORT": "9000"}, {"api": {"port": 0}})
    assert message == "command line: api.port: Input should be greater than or equal to 1 (got 0)"


def test_bad_value_names_the_winning_source(tmp_path: Path) -> None:
    # The file's bad value is shadowed by a good env value; the env's bad value is the error.
    config = write(tmp_path, "[daemon]\nmax_bots = 0\n")
    assert load_settings(config, {"ALGOTRADE__DAEMON__MAX_BOTS": "5"}, {}).daemon.max_bots == 5
    assert config_error(config).startswith(f"{config}: daemon.max_bots: ")


def test_unknown_key_in_file(tmp_path: Path) -> None:
    config = write(tmp_path, "[api]\nprot = 9000\n")
    assert config_error(config) == f"{config}: unknown setting 'api.prot'"


def test_unknown_section_in_file(tmp_path: Path) -> None:
    config = write(tmp_path, "[apii]\nport = 9000\n")
    assert config_error(config) == f"{config}: unknown setting 'apii'"


@pytest.mark.parametrize("section", ["daemon", "api", "database", "logging"])
def test_every_section_forbids_unknown_keys(tmp_path: Path, section: str) -> None:
    config = write(tmp_path, f"[{section}]\nnope = 1\n")
    assert config_error(config) == f"{config}: unknown setting '{section}.nope'"


def test_unknown_key_in_environment() -> None:
    message = config_error(None, {"ALGOTRADE__API__PROT": "1"})
    assert message == "environment ALGOTRADE__API__PROT: unknown setting 'api.prot'"
    message = config_error(None, {"ALGOTRADE__DATABSE__URL": "x"})
    assert message == "environment ALGOTRADE__DATABSE__URL: unknown setting 'databse.url'"


def test_unknown_key_in_overrides() -> None:
    assert config_error(None, overrides={"api": {"prot": 1}}) == (
        "command line: unknown setting 'api.prot'"
    )


def test_bad_json_section_in_environment() -> None:
    message = config_error(None, {"ALGOTRADE__API": "{not json"})
    assert message.startswith("environment ALGOTRADE__API: api: not valid JSON: ")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    config = write(tmp_path, '[api]\nhost = "x"\nport = = 3\n')
    message = config_error(config)
    assert message.startswith(f"{config} line 3: ")
    assert "(at line" not in message


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "x.toml"
    assert config_error(missing) == f"config file not found: {missing}"


def test_several_errors_still_one_line(tmp_path: Path) -> None:
    config = write(tmp_path, "[api]\nport = 0\nws_queue_size = 0\n")
    message = config_error(config)
    assert message.startswith(f"{config}: api.port: ")
    assert message.endswith("(and 1 more)")


def test_redacted_dump_masks_database_password() -> None:
    settings = load_settings(
        None, {"ALGOTRADE__DATABASE__URL": "postgresql+psycopg://bob:s3cret@db:5432/algo"}, {}
    )
    dump = settings.redacted_dump()
    assert dump["database"]["url"] == "postgresql+psycopg://bob:***@db:5432/algo"
    assert dump["database_url"] == "postgresql+psycopg://bob:***@db:5432/algo"
    assert "s3cret" not in repr(dump)
    assert settings.database_url.endswith("s3cret@db:5432/algo")  # the real one is intact
    assert dump["api"]["port"] == 8080


def test_redact_url_without_password_is_unchanged() -> None:
    assert redact_url("sqlite:///data/algotrade.db") == "sqlite:///data/algotrade.db"
    assert redact_url("postgresql://bob@h/db") == "postgresql://bob@h/db"
    assert redact_url("postgresql://bob:pw@h/db") == "postgresql://bob:***@h/db"


def test_plain_constructor_still_works() -> None:
    assert DaemonSettings().api.port == 8080


def example_config_path() -> Path:
    return Path(str(resources.files("algotrade.daemon") / "example_config.toml"))


def test_example_config_loads_and_its_bots_validate() -> None:
    settings = load_settings(example_config_path(), {}, {})
    assert settings.daemon.data_dir == Path("data")
    assert (settings.api.host, settings.api.port) == ("127.0.0.1", 8080)
    assert settings.logging.level == "INFO"
    bots = [BotConfig.model_validate(raw) for raw in settings.bots]
    assert [bot.bot_id for bot in bots] == ["demo-btc", "demo-eth", "demo-grid"]
    assert {bot.strategy for bot in bots} == {"ma_crossover", "rsi", "grid"}
    for bot in bots:
        assert bot.feed == "sim"
        assert bot.auto_resume is True
        assert bot.feed_options["tick_seconds"] == 0.2


def test_example_config_strategy_params_and_feed_options_validate() -> None:
    from algotrade.strategies.registry import create_strategy

    settings = load_settings(example_config_path(), {}, {})
    for raw in settings.bots:
        bot = BotConfig.model_validate(raw)
        create_strategy(bot.strategy, bot.params)  # raises ConfigError on a bad parameter
    try:
        from algotrade.daemon.sim_feed import SimOptions
    except ImportError:  # pragma: no cover - the sim feed lives in another module
        return
    for raw in settings.bots:
        SimOptions.parse(raw["feed_options"])


def test_access_log_is_off_by_default_and_can_be_enabled() -> None:
    from algotrade.daemon.settings import load_settings

    assert load_settings(None, {}, {}).api.access_log is False
    enabled = load_settings(None, {"ALGOTRADE__API__ACCESS_LOG": "true"}, {})
    assert enabled.api.access_log is True


# -- defect 8: a bad [[bots]] entry is one line naming the entry and the field ---------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'bot_id = "x"\nstrategy = 12\n',
            "bots[1] (bot_id 'x'): symbol: Field required (and 1 more)",
        ),
        (
            'bot_id = "x"\nsymbol = "BTC"\nstrategy = "rsi"\ninitial_capital = "abc"\n',
            "bots[1] (bot_id 'x'): initial_capital: Input should be a valid decimal number, "
            "e.g. 12.5 or \"12.5\" (got 'abc')",
        ),
        (
            'bot_id = "x"\nsymbol = "BTC"\nstrategy = "rsi"\nwarmup_periods = true\n',
            "bots[1] (bot_id 'x'): warmup_periods: Input should be a valid integer (got True)",
        ),
        (
            'bot_id = "x"\nsymbol = "BTC"\nstrategy = "rsi"\nsymbl = "ETH"\n',
            "bots[1] (bot_id 'x'): unknown field 'symbl'",
        ),
        ('symbol = "BTC"\nstrategy = "rsi"\n', "bots[1]: bot_id: Field required"),
        (
            'bot_id = "bad id!"\nsymbol = "BTC"\nstrategy = "rsi"\n',
            "bots[1] (bot_id 'bad id!'): bot_id: String should match pattern",
        ),
    ],
)
def test_a_bad_bots_entry_is_one_line_naming_file_entry_and_field(
    tmp_path: Path, entry: str, expected: str
) -> None:
    good = '[[bots]]\nbot_id = "ok"\nsymbol = "BTC"\nstrategy = "rsi"\n'
    config = write(tmp_path, f"{good}\n[[bots]]\n{entry}")
    message = config_error(config)
    assert message.startswith(f"{config}: {expected}")
    assert "\n" not in message


def test_a_bad_bots_entry_from_the_environment_names_the_variable() -> None:
    env = {"ALGOTRADE__BOTS": '[{"bot_id": "x", "symbol": "BTC", "strategy": ""}]'}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env, {})
    assert str(caught.value).startswith(
        "environment ALGOTRADE__BOTS: bots[0] (bot_id 'x'): strategy: String should have at least"
    )


def test_two_bots_entries_with_one_id_are_refused(tmp_path: Path) -> None:
    bot = '[[bots]]\nbot_id = "twin"\nsymbol = "BTC"\nstrategy = "rsi"\n'
    config = write(tmp_path, bot + bot)
    assert config_error(config) == (
        f"{config}: bots[1]: bot_id 'twin' is already used by bots[0]; each bot needs its own id"
    )


def test_bot_workers_is_a_count_and_needs_posix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(None, {}, {}).daemon.bot_workers == 0
    config = write(tmp_path, "[daemon]\nbot_workers = 2\n")
    assert load_settings(config, {}, {}).daemon.bot_workers == 2
    negative = write(tmp_path, "[daemon]\nbot_workers = -1\n", "negative.toml")
    assert "daemon.bot_workers" in config_error(negative)
    monkeypatch.setattr("algotrade.daemon.settings.sys.platform", "win32")
    message = config_error(config)
    assert "daemon.bot_workers" in message
    assert "Linux and macOS only" in message
