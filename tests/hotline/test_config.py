"""The config directory is validated once, and a bad file is refused with file, line, reason."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from hotline.config import ConfigError, ConfigIssue, load_config
from hotline.config_edit import check_candidate
from hotline.config_models import Config

SHIPPED = Path(__file__).resolve().parents[2] / "config"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(
    directory: Path,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, environ=environ or {}, overrides=overrides)
    return list(caught.value.issues)


def only_issue(
    directory: Path,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> ConfigIssue:
    issues = refused(directory, environ=environ, overrides=overrides)
    assert len(issues) == 1, issues
    return issues[0]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    write(tmp_path, "hotline.yaml", "fastagi:\n  port: 4573\n")
    return tmp_path


def test_shipped_config_directory_validates() -> None:
    config = load_config(SHIPPED, environ={})
    assert config.fastagi.port == 4573
    assert config.fallback.context == "hotline-fallback"
    assert config.ivr.entry in config.ivr.nodes


def test_missing_optional_files_mean_defaults(config_dir: Path) -> None:
    config = load_config(config_dir, environ={})
    assert config.ivr == Config().ivr
    assert config.ami.port == 5038
    assert config.fastagi.allowed_hosts == ("127.0.0.1/32", "::1/128")


def test_missing_hotline_yaml_is_refused(tmp_path: Path) -> None:
    issue = only_issue(tmp_path)
    assert issue.file == str(tmp_path / "hotline.yaml")
    assert "missing" in issue.message


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    issue = only_issue(tmp_path / "nowhere")
    assert "not found" in issue.message


def test_yaml_syntax_error_names_its_line(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "fastagi:\n  port: 4573\n   host: x\n")
    issue = only_issue(config_dir)
    assert (issue.file, issue.line) == (str(config_dir / "hotline.yaml"), 3)
    assert "YAML syntax error" in issue.message


def test_wrong_type_names_key_line_and_reason(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "web:\n  host: 127.0.0.1\n  port: eighty\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (3, "web.port")
    assert "valid integer" in issue.message


def test_unquoted_yaml_boolean_is_explained(config_dir: Path) -> None:
    write(config_dir, "ivr.yaml", "language: no\n")
    issue = only_issue(config_dir)
    assert (issue.file, issue.line, issue.path) == (str(config_dir / "ivr.yaml"), 1, "language")
    assert "quote it" in issue.message


def test_unknown_key_is_refused_with_a_suggestion(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  host: pbx\n  secert: x\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (3, "ami.secert")
    assert "unknown key 'secert'" in issue.message
    assert "did you mean 'secret'" in issue.message


def test_unknown_section_is_refused(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "fastagi: {}\nqueues: {}\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (2, "queues")


def test_out_of_range_port_names_its_line(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "# comment\nami:\n  host: 127.0.0.1\n\n  port: 70000\n")
    issue = only_issue(config_dir)
    assert str(issue) == f"{config_dir / 'hotline.yaml'}:5: ami.port: " + issue.message
    assert "less than or equal to 65535" in issue.message


def test_bad_cidr_in_allowed_hosts_names_the_list_item(config_dir: Path) -> None:
    text = "fastagi:\n  allowed_hosts:\n    - 127.0.0.1\n    - 10.0.0.0/33\n"
    write(config_dir, "hotline.yaml", text)
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (4, "fastagi.allowed_hosts.1")
    assert "not an IP address or CIDR block" in issue.message


def test_cidr_with_host_bits_suggests_the_network(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "fastagi:\n  allowed_hosts: [10.1.2.3/16]\n")
    assert "did you mean 10.1.0.0/16" in only_issue(config_dir).message


def test_allowed_hosts_accept_addresses_and_blocks(config_dir: Path) -> None:
    text = "fastagi:\n  allowed_hosts: [192.0.2.7, 10.0.0.0/8, 'fd00::/8']\n"
    write(config_dir, "hotline.yaml", text)
    config = load_config(config_dir, environ={})
    assert config.fastagi.allowed_hosts == ("192.0.2.7/32", "10.0.0.0/8", "fd00::/8")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://db/hotline", "not supported"),
        ("sqlite:///var/hotline.db", "not supported"),
        ("not a url", "not a database URL"),
        ("sqlite+aiosqlite://", "needs a file path"),
    ],
)
def test_bad_database_url_is_refused(config_dir: Path, url: str, reason: str) -> None:
    write(config_dir, "hotline.yaml", f"fastagi: {{}}\ndatabase:\n  url: '{url}'\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (3, "database.url")
    assert reason in issue.message


def test_several_errors_are_reported_at_once(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "web:\n  port: -1\nami:\n  port: 0\n")
    write(config_dir, "ivr.yaml", "welcome_prompt: 'two words'\n")
    issues = refused(config_dir)
    where = {(Path(i.file).name, i.line, i.path) for i in issues}
    assert where == {
        ("hotline.yaml", 2, "web.port"),
        ("hotline.yaml", 4, "ami.port"),
        ("ivr.yaml", 1, "welcome_prompt"),
    }


def test_duplicate_key_is_refused(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "web:\n  port: 1\n  port: 2\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (3, "web.port")
    assert "first at line 2" in issue.message


def test_yaml_boolean_key_is_refused(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "logging:\n  on: 1\n")
    assert "quote it" in only_issue(config_dir).message


def test_file_that_is_not_a_mapping_is_refused(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "- fastagi\n- ami\n")
    assert "mapping" in only_issue(config_dir).message


def test_unknown_config_file_is_refused_with_a_suggestion(config_dir: Path) -> None:
    write(config_dir, "ivr.yml", "language: en\n")
    issue = only_issue(config_dir)
    assert issue.file == str(config_dir / "ivr.yml")
    assert "did you mean 'ivr.yaml'" in issue.message


def test_empty_section_means_defaults(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  # host: pbx\nweb:\n")
    assert load_config(config_dir, environ={}).ami.host == "127.0.0.1"


def test_backoff_bounds_must_be_ordered(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  reconnect_min_s: 5\n  reconnect_max_s: 1\n")
    issue = only_issue(config_dir)
    assert (issue.line, issue.path) == (1, "ami")


def test_environment_overrides_the_file(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  host: pbx.example\n  secret: from-file\n")
    environ = {
        "HOTLINE_AMI_SECRET": "from-env",
        "HOTLINE_AMI_HOST": "10.0.0.5",
        "HOTLINE_DATABASE_URL": "postgresql+asyncpg://hotline@db/hotline",
        "HOTLINE_FASTAGI_ALLOWED_HOSTS": "10.0.0.5, 10.0.1.0/24",
    }
    config = load_config(config_dir, environ=environ)
    assert config.ami.secret.get_secret_value() == "from-env"
    assert config.ami.host == "10.0.0.5"
    assert config.database.url == "postgresql+asyncpg://hotline@db/hotline"
    assert config.fastagi.allowed_hosts == ("10.0.0.5/32", "10.0.1.0/24")


def test_empty_environment_variable_is_ignored(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  secret: from-file\n")
    config = load_config(config_dir, environ={"HOTLINE_AMI_SECRET": ""})
    assert config.ami.secret.get_secret_value() == "from-file"


def test_bad_environment_value_names_the_variable(config_dir: Path) -> None:
    issue = only_issue(config_dir, environ={"HOTLINE_AMI_PORT": "manager"})
    assert (issue.file, issue.line, issue.path) == ("$HOTLINE_AMI_PORT", None, "ami.port")


def test_command_line_overrides_environment(config_dir: Path) -> None:
    config = load_config(
        config_dir,
        environ={"HOTLINE_WEB_PORT": "9000"},
        overrides={"web.port": 0, "ivr.language": "fr"},
    )
    assert config.web.port == 0
    assert config.ivr.language == "fr"


def test_unknown_command_line_setting_is_refused(config_dir: Path) -> None:
    issue = only_issue(config_dir, overrides={"fastagii.port": 1})
    assert (issue.file, issue.path) == ("--set", "fastagii.port")
    assert "did you mean 'fastagi'" in issue.message


def test_secret_never_appears_in_repr_or_str(config_dir: Path) -> None:
    write(config_dir, "hotline.yaml", "ami:\n  secret: hunter2-file\n")
    config = load_config(config_dir, environ={})
    for text in (repr(config), str(config), repr(config.ami), str(config.ami.secret)):
        assert "hunter2" not in text
    assert config.ami.secret.get_secret_value() == "hunter2-file"


def test_database_password_never_appears_in_repr(config_dir: Path) -> None:
    url = "postgresql+asyncpg://hotline:hunter2@db/hotline"
    config = load_config(config_dir, environ={"HOTLINE_DATABASE_URL": url})
    assert "hunter2" not in repr(config)
    assert config.database.url == url


def test_config_is_frozen(config_dir: Path) -> None:
    config = load_config(config_dir, environ={})
    with pytest.raises(ValueError, match="frozen"):
        config.web.port = 1


def test_built_in_defaults_need_no_directory() -> None:
    config = load_config(None, environ={}, overrides={"web.port": 0})
    assert config.web.port == 0
    assert config.fastagi.port == 4573


def test_sqlite_path_is_the_file_of_the_url() -> None:
    config = load_config(None, environ={"HOTLINE_DATABASE_URL": "sqlite+aiosqlite:///var/x.db"})
    assert config.database.sqlite_path == Path("var/x.db")


def test_unknown_key_inside_a_list_or_map_of_settings_is_located(config_dir: Path) -> None:
    write(config_dir, "agents.yaml", 'agents:\n  - id: "1001"\n    nmae: Alice\n')
    issue = only_issue(config_dir)
    assert (Path(issue.file).name, issue.line, issue.path) == ("agents.yaml", 3, "agents.0.nmae")
    assert "did you mean 'name'" in issue.message


def test_paths_in_ivr_yaml_are_relative_to_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment's config and prompts side by side, the service started elsewhere: the
    prompts, catalog and intents that ivr.yaml names are found, with nothing reported."""
    site = tmp_path / "site"
    shutil.copytree(SHIPPED, site / "config")
    shutil.copytree(SHIPPED.parent / "prompts", site / "prompts")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(Path("../site/config"), environ={})

    prompts = config.ivr.prompts
    assert prompts.directory == Path("../site/prompts")
    assert prompts.catalog == Path("../site/prompts/catalog.yaml")
    assert config.ivr.intents_file == Path("../site/config/intents.yaml")
    assert prompts.core_sounds_dir == Path("/usr/share/asterisk/sounds")  # absolute: as written
    # Where the service keeps its working files stays relative to where it runs.
    assert config.ivr.speech.recordings_dir == Path("var/recordings")


def test_a_config_without_its_prompts_names_where_it_looked(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "config")
    issues = refused(tmp_path / "config")
    assert issues
    catalog = str(tmp_path / "prompts" / "catalog.yaml")
    assert any(catalog in issue.message for issue in issues), issues[0]


def test_paths_set_on_the_command_line_are_used_as_given(config_dir: Path) -> None:
    write(config_dir, "ivr.yaml", "prompts:\n  directory: recorded\nintents_file: null\n")
    config = load_config(config_dir, environ={})
    assert config.ivr.prompts.directory == config_dir / "recorded"

    overridden = load_config(
        config_dir, environ={}, overrides={"ivr.prompts.directory": "my-prompts"}
    )
    assert overridden.ivr.prompts.directory == Path("my-prompts")


def test_defaults_are_relative_to_the_working_directory(config_dir: Path) -> None:
    write(config_dir, "ivr.yaml", "language: en\n")
    assert load_config(config_dir, environ={}).ivr.prompts.directory == Path("prompts")


def test_an_admin_edit_is_checked_with_the_paths_of_the_real_directory(tmp_path: Path) -> None:
    """The admin pages check a candidate file in a scratch copy of the config: its relative
    paths still mean the real directory's neighbours, so a good edit is not refused."""
    shutil.copytree(SHIPPED, tmp_path / "config")
    shutil.copytree(SHIPPED.parent / "prompts", tmp_path / "prompts")
    queues = (tmp_path / "config" / "queues.yaml").read_text(encoding="utf-8")

    errors, _ = check_candidate(tmp_path / "config", {"queues.yaml": queues}, environ={})

    assert errors == []


def test_consult_without_dial_option_t_is_refused_where_it_is_said(config_dir: Path) -> None:
    write(config_dir, "waiting.yaml", "dial_options: gM(hello)\nconsult: true\n")
    issue = only_issue(config_dir)
    assert (issue.file, issue.line, issue.path) == (str(config_dir / "waiting.yaml"), 2, "consult")
    assert "needs Dial option 't'" in issue.message
    assert "'gM(hello)'" in issue.message
    # an argument holding a t is not the option; without consult: said, it follows the options
    write(config_dir, "waiting.yaml", "dial_options: gM(t)\n")
    assert not load_config(config_dir, environ={}).waiting.consult_enabled
    write(config_dir, "waiting.yaml", "dial_options: gt\n")
    assert load_config(config_dir, environ={}).waiting.consult_enabled
    write(config_dir, "waiting.yaml", "dial_options: gt\nconsult: false\n")
    assert not load_config(config_dir, environ={}).waiting.consult_enabled
